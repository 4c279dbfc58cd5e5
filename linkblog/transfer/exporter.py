"""Bookmark export, the database half: stream every bookmark, oldest first, through the pure emitters."""
from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import Engine, select

from ..db import BATCH_SIZE
from ..models import BOOKMARKS
from .formats.netscape import emit_netscape
from .formats.pinboard import emit_pinboard

FORMATS = {"netscape": emit_netscape, "pinboard": emit_pinboard}


def _rows(engine: Engine) -> Iterator[dict]:
    query = (select(BOOKMARKS.c.url, BOOKMARKS.c.title, BOOKMARKS.c.annotation, BOOKMARKS.c.tags_text,
                    BOOKMARKS.c.visibility, BOOKMARKS.c.toread, BOOKMARKS.c.created_at, BOOKMARKS.c.updated_at)
             .order_by(BOOKMARKS.c.created_at, BOOKMARKS.c.id))
    with engine.connect() as conn:
        for row in conn.execution_options(yield_per=BATCH_SIZE).execute(query).mappings():
            yield {"url": row["url"], "title": row["title"], "annotation": row["annotation"],
                   "tags": row["tags_text"].split(), "visibility": row["visibility"],
                   "toread": bool(row["toread"]), "created_at": row["created_at"], "updated_at": row["updated_at"]}


def export_bookmarks(engine: Engine, fmt: str, counter: list[int] | None = None) -> Iterator[str]:
    """The export file in chunks; ``counter[0]`` (if given) counts the bookmarks written."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")

    def counted() -> Iterator[dict]:
        for row in _rows(engine):
            if counter is not None:
                counter[0] += 1
            yield row

    return FORMATS[fmt](counted())
