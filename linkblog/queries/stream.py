"""The stream: bookmarks and published weeknotes together, newest first (home, feeds, the outbox)."""
from __future__ import annotations

from typing import Any, Iterable

from sqlalchemy import Connection

from ..models import BOOKMARKS
from ..states import Visibility
from . import bookmarks, weeknotes
from .paging import Cursor, Page, page_of

# Built once: comparing a column with a StrEnum member costs SQLAlchemy a type lookup each time.
_LISTED = BOOKMARKS.c.visibility == Visibility.PUBLIC


def stream(conn: Connection, *, owner: bool, size: int, cursor: Cursor | None = None,
           kinds: Iterable[str] = ("b", "w")) -> Page:
    """One page of each kind, merged: two index ranges whatever the page, never an OFFSET."""
    items: list[dict[str, Any]] = []
    if "b" in kinds:
        # The owner's home leaves archived bookmarks out (they are on /admin/archived); readers still see them.
        items += bookmarks.newest(conn, [bookmarks.NOT_ARCHIVED] if owner else [_LISTED], cursor, size + 1)
    if "w" in kinds:
        items += weeknotes.newest(conn, owner, cursor, size + 1)
    return page_of(items, size)
