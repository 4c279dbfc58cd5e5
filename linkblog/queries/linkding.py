"""Reads for the linkding API: its lists (limit and offset, as linkding pages), its search, tags by id.

linkding pages with OFFSET, so these do too; the lists without ``q`` are one range of
``ix_bookmarks_archived_created`` (archived, created_at, id) and the count an index-only count of the same.
A search is linkding's too: case-insensitive substrings of title, description (our quote), notes (our
annotation) and URL, so it scans the owner's bookmarks like linkding's own does.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, false, func, not_, or_, select, true

from ..compat.linkding import And, Expression, Keyword, Not, Or, TagTerm, Term
from ..models import BOOKMARKS, BOOKMARK_TAGS, TAGS
from ..tags import InvalidTag, clean_tag
from .bookmarks import BOOKMARK_COLUMNS, bookmark_item

LIKE_ESCAPE = "\\"


def _contains(text: str) -> ColumnElement[bool]:
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return or_(*(column.ilike(pattern, escape=LIKE_ESCAPE)
                 for column in (BOOKMARKS.c.title, BOOKMARKS.c.quote, BOOKMARKS.c.annotation, BOOKMARKS.c.url)))


def _tagged(name: str) -> ColumnElement[bool]:
    try:
        cleaned = clean_tag(name)
    except InvalidTag:
        return false()  # no stored tag can have this name
    return (select(BOOKMARK_TAGS.c.bookmark_id).join(TAGS, TAGS.c.id == BOOKMARK_TAGS.c.tag_id)
            .where(TAGS.c.name == cleaned, BOOKMARK_TAGS.c.bookmark_id == BOOKMARKS.c.id).exists())


def condition(expression: Expression) -> ColumnElement[bool]:
    """A parsed `q` as SQL, node by node as linkding builds its Q objects."""
    if isinstance(expression, Term):
        return _contains(expression.text)
    if isinstance(expression, TagTerm):
        return _tagged(expression.name)
    if isinstance(expression, Keyword):
        if expression.name == "unread":
            return BOOKMARKS.c.toread.is_(True)
        if expression.name == "untagged":
            return BOOKMARKS.c.tags_text == ""
        return true()
    if isinstance(expression, And):
        return and_(condition(expression.left), condition(expression.right))
    if isinstance(expression, Or):
        return or_(condition(expression.left), condition(expression.right))
    if isinstance(expression, Not):
        return not_(condition(expression.operand))
    raise TypeError(f"not a search expression: {expression!r}")


@dataclass(frozen=True)
class ListFilters:
    archived: bool | None             # None: both (linkding's shared list)
    search: Expression | None = None
    unread: bool | None = None            # linkding's ?unread=yes|no
    shared: bool | None = None            # ?shared=yes|no
    added_since: datetime | None = None
    modified_since: datetime | None = None

    def where(self) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = [] if self.archived is None else [BOOKMARKS.c.archived.is_(self.archived)]
        if self.search is not None:
            where.append(condition(self.search))
        if self.unread is not None:
            where.append(BOOKMARKS.c.toread.is_(self.unread))
        if self.shared is not None:
            shared = BOOKMARKS.c.visibility.in_(("public", "unlisted"))
            where.append(shared if self.shared else not_(shared))
        if self.added_since is not None:
            where.append(BOOKMARKS.c.created_at > self.added_since)
        if self.modified_since is not None:
            where.append(BOOKMARKS.c.updated_at > self.modified_since)
        return where


SORTS = {
    "added_desc": (BOOKMARKS.c.created_at.desc(), BOOKMARKS.c.id.desc()),
    "added_asc": (BOOKMARKS.c.created_at, BOOKMARKS.c.id),
    "modified_desc": (BOOKMARKS.c.updated_at.desc(), BOOKMARKS.c.id.desc()),
    "modified_asc": (BOOKMARKS.c.updated_at, BOOKMARKS.c.id),
    "title_asc": (func.lower(BOOKMARKS.c.title), BOOKMARKS.c.id),
    "title_desc": (func.lower(BOOKMARKS.c.title).desc(), BOOKMARKS.c.id.desc()),
}


def bookmarks(conn: Connection, filters: ListFilters, *, limit: int, offset: int,
              sort: str = "added_desc") -> tuple[list[dict[str, Any]], int]:
    """One page of the list and the list's size (linkding's ``results`` and ``count``)."""
    where = filters.where()
    rows = conn.execute(select(*BOOKMARK_COLUMNS, BOOKMARKS.c.annotation).where(*where)
                        .order_by(*SORTS.get(sort, SORTS["added_desc"])).limit(limit).offset(offset))
    items = [bookmark_item(r) for r in rows]
    total = conn.execute(select(func.count()).select_from(BOOKMARKS).where(*where)).scalar_one()
    return items, total


def bookmark(conn: Connection, bookmark_id: int) -> dict[str, Any] | None:
    row = conn.execute(select(*BOOKMARK_COLUMNS, BOOKMARKS.c.annotation).where(BOOKMARKS.c.id == bookmark_id)).first()
    return bookmark_item(row) if row else None


def _first_use() -> Any:
    """When a tag was first used: the oldest of its bookmark_tags rows (one index range per tag)."""
    return (select(func.min(BOOKMARK_TAGS.c.created_at)).where(BOOKMARK_TAGS.c.tag_id == TAGS.c.id)
            .scalar_subquery())


def tags(conn: Connection, *, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
    """Tags in the order they were made (by id, as linkding lists them), with linkding's ``date_added``."""
    rows = conn.execute(select(TAGS.c.id, TAGS.c.name, _first_use().label("date_added"))
                        .order_by(TAGS.c.id).limit(limit).offset(offset)).mappings()
    items = [dict(r) for r in rows]
    total = conn.execute(select(func.count()).select_from(TAGS)).scalar_one()
    return items, total


def tag(conn: Connection, *, tag_id: int | None = None, name: str | None = None) -> dict[str, Any] | None:
    where = TAGS.c.id == tag_id if tag_id is not None else TAGS.c.name == name
    row = conn.execute(select(TAGS.c.id, TAGS.c.name, _first_use().label("date_added")).where(where)).mappings().first()
    return dict(row) if row else None
