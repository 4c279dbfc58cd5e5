"""Bookmarks for a test to start from, written the way the app writes them or, when a test needs a row the
app would never write, as the bare row; the ``make_bookmark`` fixture hands out one factory per test."""
from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.engine import Engine

from linkblog import bookmarks
from linkblog.config import Config
from linkblog.models import Bookmark


class BookmarkFactory:
    """``make_bookmark(url, title, ...)`` saves through the service (``bookmarks.validate``, then
    ``bookmarks.create``: normalised URL, rendered Markdown, tag rows, search index) and returns the id.
    ``federate=True`` passes the test's ``config`` (the one the app was made with), so followers get their
    Create queued as after the form; a Config given instead federates with that one. Without a URL each
    bookmark gets a new ``https://example.org/page/<n>``, and the title then defaults to the URL, as in the form.

    ``make_bookmark.row(url, ...)`` inserts the row as given instead (columns of ``models.Bookmark``), for
    fixed times (``updated_at`` defaults to ``created_at``) or columns the service derives itself."""

    def __init__(self, engine: Engine, config: Config) -> None:
        self.engine = engine
        self.config = config
        self._numbers = itertools.count(1)

    def next_url(self) -> str:
        return f"https://example.org/page/{next(self._numbers)}"

    def __call__(self, url: str | None = None, title: str = "", *, tags: str | list[str] = "",
                 visibility: str = "public", annotation: str = "", quote: str = "", toread: bool = False,
                 created_at: datetime | None = None, via: tuple[str, str | None] | None = None,
                 federate: bool | Config = False) -> int:
        item = bookmarks.validate({"url": url or self.next_url(), "title": title, "annotation": annotation,
                                   "quote": quote, "tags": tags, "visibility": visibility, "toread": toread})
        if federate is True:
            config: Config | None = self.config
        elif federate is False:
            config = None
        else:
            config = federate
        with self.engine.begin() as conn:
            return bookmarks.create(conn, item, created_at=created_at, config=config, via=via)

    def row(self, url: str | None = None, *, title: str = "A link", created_at: datetime | None = None,
            updated_at: datetime | None = None, **columns: Any) -> int:
        values: dict[str, Any] = {"url": url or self.next_url(), "title": title, **columns}
        if created_at is not None:
            values["created_at"] = created_at
        if updated_at is not None or created_at is not None:
            values["updated_at"] = updated_at or created_at
        with self.engine.begin() as conn:
            return conn.execute(insert(Bookmark).values(**values).returning(Bookmark.id)).scalar_one()
