"""Reads of the link checks: the owner's link-health list, and which links public pages mark as dead.

Both read ``link_checks`` by bookmark id or by state, one statement whatever the page's size, so a page of
twenty bookmarks or a weeknote with a hundred links costs one more query, never one per link."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable

from sqlalchemy import Connection, and_, func, or_, select, tuple_

from ..models import BOOKMARKS, LINK_CHECKS, PAGE_COPIES
from ..states import CopyState, LinkState
from .bookmarks import BOOKMARK_COLUMNS, bookmark_item

# What /admin/links lists: the links that need the owner (ok ones do not).
PROBLEMS = (LinkState.GONE, LinkState.UNREACHABLE, LinkState.CHANGED, LinkState.REDIRECTED)
# What public pages mark as dead and offer a fallback for (a redirect still takes readers somewhere).
DEAD = (LinkState.GONE, LinkState.UNREACHABLE, LinkState.CHANGED)
MAX_LINKS_LOOKED_UP = 500   # links of one weeknote looked up; the rest show as they are

# Whether a finished saved copy exists and the bookmark's own choice of who may read it (None: the setting):
# what decides if a dead link's fallback is the copy (``links.copies.readers_may_see``) or the Wayback Machine.
_COPY = (PAGE_COPIES.c.state.label("copy_state"), PAGE_COPIES.c.readers.label("copy_readers"))
_WITH_COPY = PAGE_COPIES.c.bookmark_id == BOOKMARKS.c.id


def _copy(row: Any) -> dict[str, Any]:
    return {"copy_done": row.copy_state == CopyState.DONE, "copy_readers": row.copy_readers}


def problems(conn: Connection, *, states: Iterable[str] = PROBLEMS, size: int = 50,
             before: tuple[datetime, int] | None = None) -> tuple[list[dict[str, Any]], tuple[datetime, int] | None]:
    """Links in ``states``, newest problem first (over ``ix_link_checks_state_since``), and the position
    of the next page (None at the end)."""
    query = (select(BOOKMARKS.c.id, BOOKMARKS.c.url, BOOKMARKS.c.title, BOOKMARKS.c.created_at,
                    BOOKMARKS.c.visibility, LINK_CHECKS.c.state, LINK_CHECKS.c.state_since,
                    LINK_CHECKS.c.checked_at, LINK_CHECKS.c.redirect_url, LINK_CHECKS.c.reason,
                    LINK_CHECKS.c.last_status, LINK_CHECKS.c.show_copy, LINK_CHECKS.c.failures, *_COPY)
             .select_from(LINK_CHECKS.join(BOOKMARKS, BOOKMARKS.c.id == LINK_CHECKS.c.bookmark_id)
                          .outerjoin(PAGE_COPIES, _WITH_COPY))
             .where(LINK_CHECKS.c.state.in_(list(states))))
    if before is not None:
        query = query.where(tuple_(LINK_CHECKS.c.state_since, LINK_CHECKS.c.bookmark_id) < before)
    rows = [dict(r._mapping) for r in conn.execute(
        query.order_by(LINK_CHECKS.c.state_since.desc(), LINK_CHECKS.c.bookmark_id.desc()).limit(size + 1))]
    more = len(rows) > size
    rows = rows[:size]
    return rows, ((rows[-1]["state_since"], rows[-1]["id"]) if more and rows else None)


def titles(conn: Connection, bookmark_ids: list[int]) -> list[dict[str, Any]]:
    """Id, title, URL and visibility of the bookmarks among ``bookmark_ids`` (what a delete will remove)."""
    rows = conn.execute(select(BOOKMARKS.c.id, BOOKMARKS.c.title, BOOKMARKS.c.url, BOOKMARKS.c.visibility)
                        .where(BOOKMARKS.c.id.in_(bookmark_ids)).order_by(BOOKMARKS.c.id))
    return [dict(r._mapping) for r in rows]


def state_counts(conn: Connection) -> dict[str, int]:
    """How many links are in each state (ok included), and how many were never checked (``unchecked``)."""
    counts = dict(conn.execute(select(LINK_CHECKS.c.state, func.count()).group_by(LINK_CHECKS.c.state)).all())
    total = conn.execute(select(func.count()).select_from(BOOKMARKS)).scalar_one()
    counts["unchecked"] = max(0, total - sum(counts.values()))
    return counts


def marks(conn: Connection, bookmark_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """For public pages: the bookmarks among ``bookmark_ids`` whose link is dead or whose copy the owner
    chose to show, with their state and whether to link the copy."""
    ids = list(dict.fromkeys(bookmark_ids))
    if not ids:
        return {}
    rows = conn.execute(select(LINK_CHECKS.c.bookmark_id, LINK_CHECKS.c.state, LINK_CHECKS.c.show_copy, *_COPY)
                        .select_from(LINK_CHECKS.outerjoin(PAGE_COPIES,
                                                           PAGE_COPIES.c.bookmark_id == LINK_CHECKS.c.bookmark_id))
                        .where(LINK_CHECKS.c.bookmark_id.in_(ids),
                               or_(LINK_CHECKS.c.state.in_(list(DEAD)), LINK_CHECKS.c.show_copy.is_(True))))
    return {r.bookmark_id: {"state": r.state, "show_copy": bool(r.show_copy), **_copy(r)} for r in rows}


def bookmark(conn: Connection, bookmark_id: int) -> dict[str, Any] | None:
    """``queries.bookmarks.bookmark`` with its link's state (``link_state``, ``link_show_copy``,
    ``link_checked_at``; None when never checked) in the same statement, for the permalink page."""
    row = conn.execute(select(*BOOKMARK_COLUMNS, BOOKMARKS.c.annotation, LINK_CHECKS.c.state.label("link_state"),
                              LINK_CHECKS.c.show_copy.label("link_show_copy"),
                              LINK_CHECKS.c.checked_at.label("link_checked_at"), *_COPY)
                       .select_from(BOOKMARKS.outerjoin(LINK_CHECKS, LINK_CHECKS.c.bookmark_id == BOOKMARKS.c.id)
                                    .outerjoin(PAGE_COPIES, _WITH_COPY))
                       .where(BOOKMARKS.c.id == bookmark_id)).first()
    if row is None:
        return None
    item = bookmark_item(row)
    item.pop("copy_state", None)
    item.pop("copy_readers", None)
    return {**item, **{f"link_{k}": v for k, v in _copy(row).items()}}


def dead_urls(conn: Connection, urls: Iterable[str], *, owner: bool) -> dict[str, dict[str, Any]]:
    """For weeknote bodies: which of ``urls`` are bookmarks whose link is dead (or shown as a copy), with the
    bookmark's id and saved date; readers only learn of bookmarks they may see."""
    wanted = list(dict.fromkeys(urls))[:MAX_LINKS_LOOKED_UP]
    if not wanted:
        return {}
    query = (select(BOOKMARKS.c.id, BOOKMARKS.c.url, BOOKMARKS.c.created_at, BOOKMARKS.c.visibility,
                    LINK_CHECKS.c.state, LINK_CHECKS.c.show_copy, *_COPY)
             .select_from(BOOKMARKS.join(LINK_CHECKS, LINK_CHECKS.c.bookmark_id == BOOKMARKS.c.id)
                          .outerjoin(PAGE_COPIES, _WITH_COPY))
             .where(BOOKMARKS.c.url.in_(wanted),
                    or_(LINK_CHECKS.c.state.in_(list(DEAD)), LINK_CHECKS.c.show_copy.is_(True))))
    if not owner:
        query = query.where(and_(BOOKMARKS.c.visibility.in_(["public", "unlisted"])))
    return {r.url: {"id": r.id, "saved_at": r.created_at, "state": r.state, "show_copy": bool(r.show_copy),
                    "visibility": r.visibility, **_copy(r)}
            for r in conn.execute(query)}


__all__ = ["DEAD", "MAX_LINKS_LOOKED_UP", "PROBLEMS", "bookmark", "dead_urls", "marks", "problems", "state_counts",
           "titles"]
