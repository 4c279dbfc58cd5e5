"""Reads of bookmarks and tags: lists over covering indexes, single items, tag counts and names."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, func, select

from ..markup import text_fragment_url
from ..models import BOOKMARKS, BOOKMARK_TAGS, TAGS
from ..states import Visibility
from .paging import Cursor, Page, count_where, matching, newest_after, page_of


BOOKMARK_COLUMNS = (BOOKMARKS.c.id, BOOKMARKS.c.url, BOOKMARKS.c.title, BOOKMARKS.c.annotation_html, BOOKMARKS.c.quote,
                    BOOKMARKS.c.tags_text, BOOKMARKS.c.visibility, BOOKMARKS.c.toread, BOOKMARKS.c.archived,
                    BOOKMARKS.c.created_at, BOOKMARKS.c.updated_at)


def bookmark_item(row: Any) -> dict[str, Any]:
    """A row as the templates, feeds and API use it: tags as a list, its sort time, the quote's link."""
    item = dict(row._mapping)
    item["kind"] = "b"
    item["tags"] = item["tags_text"].split()
    item["sort_at"] = item["created_at"]
    item["quote_link"] = text_fragment_url(item["url"], item["quote"]) if item["quote"] else item["url"]
    return item


def can_see(visibility: str, owner: bool) -> bool:
    """Pages: public and unlisted for everyone; followers-only and private for the owner alone."""
    return owner or visibility in (Visibility.PUBLIC, Visibility.UNLISTED)


def newest(conn: Connection, where: list[ColumnElement[bool]], cursor: Cursor | None, limit: int, *,
           annotation: bool = False) -> list[dict[str, Any]]:
    """Up to ``limit`` bookmarks matching ``where``, newest first, after ``cursor`` (``annotation``: its
    Markdown source too, for the API)."""
    columns = (*BOOKMARK_COLUMNS, BOOKMARKS.c.annotation) if annotation else BOOKMARK_COLUMNS
    query = newest_after(select(*columns).where(*where), cursor, "b", BOOKMARKS.c.created_at, BOOKMARKS.c.id, limit)
    return [bookmark_item(r) for r in conn.execute(query)]


# Built once: comparing a column with a constant costs SQLAlchemy a type lookup each time.
NOT_ARCHIVED = BOOKMARKS.c.archived.is_(False)


def to_read(conn: Connection, *, size: int, cursor: Cursor | None = None) -> Page:
    """The owner's reading list: bookmarks marked to read and not archived, newest first (every visibility: only
    the owner asks)."""
    return page_of(newest(conn, [BOOKMARKS.c.toread.is_(True), NOT_ARCHIVED], cursor, size + 1), size)


def archived(conn: Connection, *, size: int, cursor: Cursor | None = None) -> Page:
    """The owner's archive: bookmarks filed away off the home page and reading list, newest first."""
    return page_of(newest(conn, [BOOKMARKS.c.archived.is_(True)], cursor, size + 1), size)


@dataclass(frozen=True)
class Filters:
    """The API's list filters; None leaves one out."""

    toread: bool | None = None
    tag: str | None = None  # a cleaned tag name
    visibility: str | None = None

    def where(self) -> list[ColumnElement[bool]]:
        where = matching(BOOKMARKS, toread=self.toread, visibility=self.visibility)
        if self.tag is not None:
            tagged = (select(BOOKMARK_TAGS.c.bookmark_id).join(TAGS, TAGS.c.id == BOOKMARK_TAGS.c.tag_id)
                      .where(TAGS.c.name == self.tag))
            where.append(BOOKMARKS.c.id.in_(tagged))
        return where


def filtered(conn: Connection, filters: Filters, *, size: int, cursor: Cursor | None = None) -> Page:
    """The API's list: every visibility unless filtered, newest first, with the Markdown source."""
    return page_of(newest(conn, filters.where(), cursor, size + 1, annotation=True), size)


def filtered_count(conn: Connection, filters: Filters) -> int:
    return count_where(conn, BOOKMARKS, filters.where())


def tag_stream(conn: Connection, tag: str, *, owner: bool, size: int, cursor: Cursor | None = None) -> Page:
    """One tag's bookmarks, newest first: an index range of bookmark_tags, then the page's rows."""
    tag_id = conn.execute(select(TAGS.c.id).where(TAGS.c.name == tag)).scalar()
    if tag_id is None:
        return Page([], None)
    inner = select(BOOKMARK_TAGS.c.bookmark_id, BOOKMARK_TAGS.c.created_at).where(BOOKMARK_TAGS.c.tag_id == tag_id)
    if not owner:
        inner = inner.where(BOOKMARK_TAGS.c.listed.is_(True))
    inner = newest_after(inner, cursor, "b", BOOKMARK_TAGS.c.created_at, BOOKMARK_TAGS.c.bookmark_id,
                         size + 1).subquery()
    query = (select(*BOOKMARK_COLUMNS).join(inner, inner.c.bookmark_id == BOOKMARKS.c.id)
             .order_by(BOOKMARKS.c.created_at.desc(), BOOKMARKS.c.id.desc()))
    return page_of([bookmark_item(r) for r in conn.execute(query)], size)


def tag_count(conn: Connection, tag: str, *, owner: bool) -> int:
    query = (select(func.count()).select_from(BOOKMARK_TAGS.join(TAGS, TAGS.c.id == BOOKMARK_TAGS.c.tag_id))
             .where(TAGS.c.name == tag))
    if not owner:
        query = query.where(BOOKMARK_TAGS.c.listed.is_(True))
    return conn.execute(query).scalar_one()


def bookmark(conn: Connection, bookmark_id: int) -> dict[str, Any] | None:
    """One bookmark with its Markdown source, whatever its visibility (the caller checks ``can_see``)."""
    row = conn.execute(select(*BOOKMARK_COLUMNS, BOOKMARKS.c.annotation).where(BOOKMARKS.c.id == bookmark_id)).first()
    return bookmark_item(row) if row else None


def id_by_url(conn: Connection, url: str) -> int | None:
    """The bookmark already saved at this (normalised) address, if any."""
    return conn.execute(select(BOOKMARKS.c.id).where(BOOKMARKS.c.url == url)).scalar()


def tag_cloud(conn: Connection, *, owner: bool, limit: int = 200, offset: int = 0) -> list[tuple[str, int]]:
    """Tags with their number of bookmarks (readers: listed ones), most used first, a page at a time."""
    count = func.count(BOOKMARK_TAGS.c.bookmark_id)
    query = select(TAGS.c.name, count).join(BOOKMARK_TAGS, BOOKMARK_TAGS.c.tag_id == TAGS.c.id)
    if not owner:
        query = query.where(BOOKMARK_TAGS.c.listed.is_(True))
    return [(n, c) for n, c in conn.execute(query.group_by(TAGS.c.name).order_by(count.desc(), TAGS.c.name)
                                            .limit(limit).offset(offset))]


def tag_names(conn: Connection) -> list[str]:
    """All tags, most used first, for the form's suggestions (owner only)."""
    count = func.count(BOOKMARK_TAGS.c.bookmark_id)
    rows = conn.execute(select(TAGS.c.name).join(BOOKMARK_TAGS, BOOKMARK_TAGS.c.tag_id == TAGS.c.id)
                        .group_by(TAGS.c.name).order_by(count.desc(), TAGS.c.name).limit(500))
    return [r[0] for r in rows]


def tag_usage(conn: Connection) -> list[tuple[str, int]]:
    """Every tag by name with its number of bookmarks (unused ones too), for the owner's tag page."""
    count = func.count(BOOKMARK_TAGS.c.bookmark_id)
    return [(name, n) for name, n in conn.execute(select(TAGS.c.name, count)
                                                  .select_from(TAGS.outerjoin(BOOKMARK_TAGS,
                                                                              BOOKMARK_TAGS.c.tag_id == TAGS.c.id))
                                                  .group_by(TAGS.c.name).order_by(TAGS.c.name))]


def tag_exists(conn: Connection, name: str) -> bool:
    return conn.execute(select(TAGS.c.id).where(TAGS.c.name == name)).first() is not None
