"""Reads for the Pinboard-compatible API (/v1/): posts by day, URL, tags and time range, counts per day and
per tag, the last change, and the owner's tags for a host. Every visibility: only the owner's token asks."""
from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, func, or_, select

from ..db import BATCH_SIZE
from ..models import BOOKMARKS, BOOKMARK_TAGS, OWNER_TABLE, TAGS
from .owner import is_the_owner

POST_COLUMNS = (BOOKMARKS.c.id, BOOKMARKS.c.url, BOOKMARKS.c.title, BOOKMARKS.c.annotation, BOOKMARKS.c.tags_text,
                BOOKMARKS.c.visibility, BOOKMARKS.c.toread, BOOKMARKS.c.created_at, BOOKMARKS.c.updated_at)
SUGGESTIONS = 10  # recommended tags for posts/suggest


@dataclass(frozen=True)
class PostFilter:
    """What a list asks for; None (or empty) leaves a condition out."""

    tags: tuple[str, ...] = ()       # cleaned names; every one must be on the bookmark
    url: str | None = None           # a normalised URL
    day: date | None = None          # saved on this UTC day
    since: datetime | None = None    # saved at or after
    until: datetime | None = None    # saved at or before

    def where(self) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = []
        for name in self.tags:
            where.append(BOOKMARKS.c.id.in_(select(BOOKMARK_TAGS.c.bookmark_id)
                                            .join(TAGS, TAGS.c.id == BOOKMARK_TAGS.c.tag_id)
                                            .where(TAGS.c.name == name)))
        if self.url is not None:
            where.append(BOOKMARKS.c.url == self.url)
        if self.day is not None:
            start = datetime.combine(self.day, time())
            where += [BOOKMARKS.c.created_at >= start, BOOKMARKS.c.created_at < start + timedelta(days=1)]
        if self.since is not None:
            where.append(BOOKMARKS.c.created_at >= self.since)
        if self.until is not None:
            where.append(BOOKMARKS.c.created_at <= self.until)
        return where


def _posts_query(which: PostFilter, start: int, limit: int | None) -> Select[Any]:
    query = (select(*POST_COLUMNS).where(*which.where())
             .order_by(BOOKMARKS.c.created_at.desc(), BOOKMARKS.c.id.desc()).offset(start))
    return query if limit is None else query.limit(limit)


def posts(conn: Connection, which: PostFilter, *, start: int = 0, limit: int | None = None) -> list[dict[str, Any]]:
    """Matching bookmarks, newest first, from the ``start``-th."""
    return [dict(row._mapping) for row in conn.execute(_posts_query(which, start, limit))]


def each_post(conn: Connection, which: PostFilter, *, start: int = 0,
              limit: int | None = None) -> Iterator[dict[str, Any]]:
    """Like ``posts``, but read ``BATCH_SIZE`` rows at a time (a server-side cursor on PostgreSQL) for
    posts/all, whose answer is every bookmark: it is sent as it is read, never held whole."""
    result = conn.execution_options(yield_per=BATCH_SIZE).execute(_posts_query(which, start, limit))
    for row in result:
        yield dict(row._mapping)


def newest_day(conn: Connection, which: PostFilter) -> date | None:
    """The UTC day of the newest matching bookmark (posts/get without dt or url)."""
    newest = conn.execute(select(func.max(BOOKMARKS.c.created_at)).where(*which.where())).scalar()
    return newest.date() if newest is not None else None


def day_counts(conn: Connection, which: PostFilter) -> list[tuple[str, int]]:
    """(``YYYY-MM-DD``, bookmarks saved that UTC day), newest day first. ``date()`` is one function on
    SQLite (text) and PostgreSQL (a date), so the day is read back as text on both."""
    day = func.date(BOOKMARKS.c.created_at)
    rows = conn.execute(select(day, func.count()).where(*which.where()).group_by(day).order_by(day.desc()))
    return [(str(d), n) for d, n in rows]


def tag_counts(conn: Connection) -> list[tuple[str, int]]:
    """Every tag that is on a bookmark, by name, with its number of bookmarks."""
    count = func.count(BOOKMARK_TAGS.c.bookmark_id)
    return [(n, c) for n, c in conn.execute(select(TAGS.c.name, count).join(BOOKMARK_TAGS, BOOKMARK_TAGS.c.tag_id == TAGS.c.id)
                                            .group_by(TAGS.c.name).order_by(TAGS.c.name))]


def last_change(conn: Connection) -> datetime | None:
    """When a bookmark was last added, changed or deleted: the newest ``updated_at``, or the owner's
    ``bookmarks_changed_at`` (deletes, the to-read flag) when that is later."""
    edited = conn.execute(select(func.max(BOOKMARKS.c.updated_at))).scalar()
    other = conn.execute(select(OWNER_TABLE.c.bookmarks_changed_at).where(is_the_owner())).scalar()
    known = [moment for moment in (edited, other) if moment is not None]
    return max(known) if known else None


def _starts_with(conn: Connection, prefix: str) -> ColumnElement[bool]:
    """``url`` starts with ``prefix``, in a form the URL index serves: GLOB on SQLite (its LIKE ignores case
    and so skips the index), LIKE elsewhere."""
    if conn.dialect.name == "sqlite":
        return BOOKMARKS.c.url.op("GLOB")(re.sub(r"([*?\[])", r"[\1]", prefix) + "*")
    return BOOKMARKS.c.url.like(prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%",
                                escape="\\")


def host_tags(conn: Connection, host: str, *, limit: int = SUGGESTIONS) -> list[str]:
    """The owner's tags on bookmarks of this host (``example.org`` or ``example.org:8080``), most used first."""
    on_host = or_(*(_starts_with(conn, f"{scheme}://{host}/") for scheme in ("http", "https")))
    count = func.count(BOOKMARK_TAGS.c.bookmark_id)
    return [name for (name,) in conn.execute(
        select(TAGS.c.name).join(BOOKMARK_TAGS, BOOKMARK_TAGS.c.tag_id == TAGS.c.id)
        .join(BOOKMARKS, BOOKMARKS.c.id == BOOKMARK_TAGS.c.bookmark_id).where(on_host)
        .group_by(TAGS.c.name).order_by(count.desc(), TAGS.c.name).limit(limit))]
