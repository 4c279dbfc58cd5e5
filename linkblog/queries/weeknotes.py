"""Reads of weeknotes: the published ones newest first, single notes, neighbours, lists paged by week."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, func, select

from ..models import WEEKNOTES
from ..states import Visibility, WeeknoteStatus
from .paging import Cursor, Page, count_where, matching, newest_after


WEEKNOTE_COLUMNS = (WEEKNOTES.c.id, WEEKNOTES.c.week, WEEKNOTES.c.title, WEEKNOTES.c.body_html, WEEKNOTES.c.status,
                    WEEKNOTES.c.visibility, WEEKNOTES.c.created_at, WEEKNOTES.c.updated_at, WEEKNOTES.c.published_at)
# The conditions every public page repeats, built once: comparing a column with a StrEnum member costs
# SQLAlchemy a type lookup each time the comparison is built.
_PUBLISHED = WEEKNOTES.c.status == WeeknoteStatus.PUBLISHED
_LISTED = (_PUBLISHED, WEEKNOTES.c.visibility == Visibility.PUBLIC)
_SERVED = (_PUBLISHED, WEEKNOTES.c.visibility.in_((Visibility.PUBLIC, Visibility.UNLISTED)))


def weeknote_item(row: Any) -> dict[str, Any]:
    """A row as the templates, feeds and API use it, sorted in streams by when it was published."""
    item = dict(row._mapping)
    item["kind"] = "w"
    item["sort_at"] = item["published_at"] or item["created_at"]
    return item


def newest(conn: Connection, owner: bool, cursor: Cursor | None, limit: int) -> list[dict[str, Any]]:
    """Up to ``limit`` published notes (readers: public ones), newest first, after ``cursor``."""
    where = (_PUBLISHED,) if owner else _LISTED
    query = newest_after(select(*WEEKNOTE_COLUMNS).where(*where), cursor, "w", WEEKNOTES.c.published_at,
                         WEEKNOTES.c.id, limit)
    return [weeknote_item(r) for r in conn.execute(query)]


def weeknote(conn: Connection, week: str) -> dict[str, Any] | None:
    """One note with its Markdown source, whatever its status (the caller checks who may see it)."""
    row = conn.execute(select(*WEEKNOTE_COLUMNS, WEEKNOTES.c.body).where(WEEKNOTES.c.week == week)).first()
    return weeknote_item(row) if row else None


def stored(conn: Connection, week: str) -> dict[str, Any] | None:
    """The week's note, every column, as the services and forms that change it need it."""
    row = conn.execute(select(WEEKNOTES).where(WEEKNOTES.c.week == week)).mappings().first()
    return dict(row) if row else None


def exists_publicly(conn: Connection, week: str) -> bool:
    return conn.execute(select(WEEKNOTES.c.id).where(WEEKNOTES.c.week == week, *_SERVED)).first() is not None


def mentioning(conn: Connection, url: str, *, owner: bool, limit: int = 5) -> list[dict[str, Any]]:
    """Notes the viewer may read whose Markdown contains ``url`` (week and body, oldest week first): the
    candidates for a permalink's "in the weeknote for week N" line, checked by the caller."""
    visible = () if owner else _SERVED
    # PostgreSQL's LIKE is case-sensitive, so strpos finds the same notes; it reads each body about twice as fast.
    contains = func.strpos(WEEKNOTES.c.body, url) > 0 if conn.dialect.name == "postgresql" \
        else WEEKNOTES.c.body.contains(url, autoescape=True)
    return [dict(r._mapping) for r in conn.execute(
        select(WEEKNOTES.c.week, WEEKNOTES.c.body).where(contains, *visible).order_by(WEEKNOTES.c.week).limit(limit))]


def adjacent(conn: Connection, week: str, *, owner: bool) -> tuple[str | None, str | None]:
    """Previous and next weeknote that the viewer may see (weeks without a note are skipped)."""
    visible = _SERVED if not owner else ()
    previous = conn.execute(select(WEEKNOTES.c.week).where(WEEKNOTES.c.week < week, *visible)
                            .order_by(WEEKNOTES.c.week.desc()).limit(1)).scalar()
    following = conn.execute(select(WEEKNOTES.c.week).where(WEEKNOTES.c.week > week, *visible)
                             .order_by(WEEKNOTES.c.week).limit(1)).scalar()
    return previous, following


def _by_week(conn: Connection, where: list[ColumnElement[bool]], *, size: int, before: str | None,
             body: bool = False) -> Page:
    """Notes matching ``where``, latest week first, before the week ``before``; ``next`` is a week."""
    query = select(*WEEKNOTE_COLUMNS, WEEKNOTES.c.body) if body else select(*WEEKNOTE_COLUMNS)
    query = query.where(*where)
    if before:
        query = query.where(WEEKNOTES.c.week < before)
    rows = [weeknote_item(r) for r in conn.execute(query.order_by(WEEKNOTES.c.week.desc()).limit(size + 1))]
    more = len(rows) > size
    return Page(rows[:size], rows[size - 1]["week"] if more else None)


def index(conn: Connection, *, owner: bool, size: int, before: str | None = None) -> Page:
    """The weeknotes page: every note for the owner, published public ones for readers."""
    return _by_week(conn, [] if owner else list(_LISTED), size=size, before=before)


@dataclass(frozen=True)
class Filters:
    """The API's list filters; None leaves one out."""

    status: str | None = None
    visibility: str | None = None

    def where(self) -> list[ColumnElement[bool]]:
        return matching(WEEKNOTES, status=self.status, visibility=self.visibility)


def filtered(conn: Connection, filters: Filters, *, size: int, before: str | None = None) -> Page:
    """The API's list: drafts too unless filtered, latest week first, with the Markdown source."""
    return _by_week(conn, filters.where(), size=size, before=before, body=True)


def filtered_count(conn: Connection, filters: Filters) -> int:
    return count_where(conn, WEEKNOTES, filters.where())


def every_note(conn: Connection) -> list[dict[str, Any]]:
    """All notes, latest week first, for the owner's list (a few columns: no bodies)."""
    return [dict(r._mapping) for r in conn.execute(
        select(WEEKNOTES.c.week, WEEKNOTES.c.title, WEEKNOTES.c.status, WEEKNOTES.c.visibility, WEEKNOTES.c.updated_at,
               WEEKNOTES.c.published_at)
        .order_by(WEEKNOTES.c.week.desc()))]
