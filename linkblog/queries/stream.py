"""The stream: bookmarks and published weeknotes together, newest first (home, feeds, the outbox)."""
from __future__ import annotations

from typing import Any, Iterable

from sqlalchemy import Connection

from ..models import BOOKMARKS
from ..states import Visibility
from . import bookmarks, weeknotes
from .paging import Cursor, Page, page_of


def stream(conn: Connection, *, owner: bool, size: int, cursor: Cursor | None = None,
           kinds: Iterable[str] = ("b", "w")) -> Page:
    """One page of each kind, merged: two index ranges whatever the page, never an OFFSET."""
    items: list[dict[str, Any]] = []
    if "b" in kinds:
        listed = [] if owner else [BOOKMARKS.c.visibility == Visibility.PUBLIC]
        items += bookmarks.newest(conn, listed, cursor, size + 1)
    if "w" in kinds:
        items += weeknotes.newest(conn, owner, cursor, size + 1)
    return page_of(items, size)
