"""A bookmark's saved page: queued with the bookmark, kept compressed, read by its page, its search and the owner.

One ``page_copies`` row per bookmark is both the fetch job (state, attempts, next attempt, lease) and the copy
(metadata, the readable HTML zlib-compressed in ``html_z``, the plain text in ``text`` that the full-text index
reads). The row is written in the transaction that saves the bookmark, so a crash loses no job; the worker
(``links.jobs``) fills it. Nothing here fetches, parses HTML or imports anything heavy: the web process uses it.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable

from sqlalchemy import Connection, func, select, update

from ..db import Bind, bulk_insert, reading, utcnow
from ..models import BOOKMARKS, PAGE_COPIES
from ..states import CopyState, Visibility
from ..urls import host_of

MODES = ("all", "no_imports", "off")


def wanted(settings: Any, *, imported: bool) -> bool:
    """Whether a bookmark saved now gets a copy: ``[copies] mode`` (stored setting over config.toml)."""
    mode = settings.get("copies", "mode")
    return mode == "all" or (mode == "no_imports" and not imported)


def _job(bookmark_id: int, url: str, imported: bool, now: datetime) -> dict[str, Any]:
    return {"bookmark_id": bookmark_id, "state": CopyState.QUEUED, "from_import": imported, "host": host_of(url),
            "attempts": 0, "next_attempt_at": now, "claimed_until": None, "reason": "", "readers": None,
            "final_url": "", "status": None, "content_type": "", "title": "", "description": "", "site_name": "",
            "canonical_url": "", "language": "", "favicon": "", "html_z": None, "text": "", "fetched_at": None,
            "created_at": now}


def queue(conn: Connection, bookmark_id: int, url: str, *, imported: bool = False) -> None:
    """Queue the page fetch of a bookmark just saved, in the caller's transaction."""
    conn.execute(PAGE_COPIES.insert().values(**_job(bookmark_id, url, imported, utcnow())))


def queue_many(conn: Connection, bookmarks: Iterable[tuple[int, str]], *, imported: bool = True) -> int:
    """Queue many at once (an import): one bulk insert; the worker paces them (``[copies] import_interval``)."""
    now = utcnow()
    rows = [_job(bookmark_id, url, imported, now) for bookmark_id, url in bookmarks]
    bulk_insert(conn, PAGE_COPIES, rows)
    return len(rows)


def address_changed(conn: Connection, bookmark_id: int, url: str) -> None:
    """The owner changed the bookmark's address: a copy of the old page is not a copy of this one, so it is
    fetched again (the readers' override stays)."""
    now = utcnow()
    fresh = {k: v for k, v in _job(bookmark_id, url, False, now).items() if k not in ("bookmark_id", "readers")}
    conn.execute(update(PAGE_COPIES).where(PAGE_COPIES.c.bookmark_id == bookmark_id).values(**fresh))


def fetch_again(conn: Connection, bookmark_id: int, url: str) -> None:
    """The owner asked for a new copy (a failed one, or none was made): queued now, as if just saved; the
    readers' choice stays. The copy in hand, if any, is kept until the new one replaces it."""
    now = utcnow()
    again = {"state": CopyState.QUEUED, "attempts": 0, "next_attempt_at": now, "claimed_until": None,
             "host": host_of(url), "from_import": False}
    if conn.execute(update(PAGE_COPIES).where(PAGE_COPIES.c.bookmark_id == bookmark_id)
                    .values(**again, reason="")).rowcount == 0:
        queue(conn, bookmark_id, url)


def set_readers(conn: Connection, bookmark_id: int, readers: bool | None) -> bool:
    """The per-bookmark override of ``[copies] readers_may_see`` (None: follow the setting); False if no copy row."""
    return conn.execute(update(PAGE_COPIES).where(PAGE_COPIES.c.bookmark_id == bookmark_id)
                        .values(readers=readers)).rowcount > 0


def compress(html: str) -> bytes:
    return zlib.compress(html.encode("utf-8"), 6)


def decompress(data: bytes | None, limit: int = 64 * 1024 * 1024) -> str:
    """The stored readable HTML; bounded even if a hand-edited backup holds a bomb."""
    if not data:
        return ""
    inflater = zlib.decompressobj()
    return inflater.decompress(bytes(data), limit).decode("utf-8", "replace")


@dataclass(frozen=True)
class Copy:
    """A bookmark's copy as its pages show it."""

    bookmark_id: int
    state: str
    reason: str
    readers: bool | None
    final_url: str
    status: int | None
    content_type: str
    title: str
    description: str
    site_name: str
    canonical_url: str
    language: str
    favicon: str
    html: str
    text: str
    attempts: int
    fetched_at: datetime | None
    next_attempt_at: datetime


def _columns() -> list[Any]:
    return [c for c in PAGE_COPIES.c if c.name not in ("host", "from_import", "claimed_until", "created_at")]


def read(bind: Bind, bookmark_id: int, *, with_body: bool = True) -> Copy | None:
    """The copy row of a bookmark (any state), or None when none was ever queued."""
    columns = _columns() if with_body else [c for c in _columns() if c.name not in ("html_z", "text")]
    with reading(bind) as conn:
        row = conn.execute(select(*columns).where(PAGE_COPIES.c.bookmark_id == bookmark_id)).mappings().first()
    if row is None:
        return None
    values = {k: v for k, v in row.items() if k != "html_z"}
    values.setdefault("text", "")
    return Copy(html=decompress(row.get("html_z")), **values)


def copy_text(bind: Bind, bookmark_id: int) -> str | None:
    """The saved page's readable text, or None when there is no finished copy: what a link check compares the
    page's current text with (``[copies] max_text_chars`` at most)."""
    with reading(bind) as conn:
        row = conn.execute(select(PAGE_COPIES.c.text).where(PAGE_COPIES.c.bookmark_id == bookmark_id,
                                                           PAGE_COPIES.c.state == CopyState.DONE)).first()
    return None if row is None else row.text


def readers_may_see(settings: Any, visibility: str, override: bool | None) -> bool:
    """Readers see a copy only of a public (or unlisted) bookmark, and only when allowed: the bookmark's own
    choice, else ``[copies] readers_may_see`` (off by default). Private and followers-only copies stay the owner's."""
    if visibility not in (Visibility.PUBLIC, Visibility.UNLISTED):
        return False
    return bool(settings.get("copies", "readers_may_see") if override is None else override)


@dataclass(frozen=True)
class Progress:
    """How far the copies of imported bookmarks are, for the dashboard."""

    queued: int
    done: int
    failed: int

    @property
    def total(self) -> int:
        return self.queued + self.done + self.failed


def import_progress(bind: Bind) -> Progress:
    with reading(bind) as conn:
        counts = dict(conn.execute(select(PAGE_COPIES.c.state, func.count())
                                   .where(PAGE_COPIES.c.from_import.is_(True))
                                   .group_by(PAGE_COPIES.c.state)).all())
    return Progress(counts.get(CopyState.QUEUED, 0), counts.get(CopyState.DONE, 0), counts.get(CopyState.FAILED, 0))


def fill_blank_title(conn: Connection, bookmark_id: int, title: str) -> bool:
    """Give a bookmark saved without a title (stored as its URL, as the form does) the page's title; a title
    the owner typed is never replaced. Only the title changes: not ``updated_at``, nothing federated."""
    title = " ".join(title.split())[:500]
    if not title:
        return False
    return conn.execute(update(BOOKMARKS).where(BOOKMARKS.c.id == bookmark_id,
                                                (BOOKMARKS.c.title == BOOKMARKS.c.url) | (BOOKMARKS.c.title == ""))
                        .values(title=title)).rowcount > 0


__all__ = ["Copy", "MODES", "Progress", "address_changed", "compress", "copy_text", "decompress", "fetch_again",
           "fill_blank_title",
           "import_progress", "queue", "queue_many", "read", "readers_may_see", "set_readers", "wanted"]
