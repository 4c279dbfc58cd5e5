"""Search in the saved copies of pages (``page_copies``, migration 0010): the second tier of ``/search``.

A bookmark found by its own words (title, tags, annotation, quote, address: ``search``) always ranks above one
found only by the words of its saved page, so the page's tier holds exactly the bookmarks whose page matches and
whose own words do not (nor contain an excluded word); results from it are marked ``matched_in = "page"``.
Readers find a bookmark by its page only when they could read the copy: the bookmark is public and its copy is
open to readers (its own choice, else ``[copies] readers_may_see``). Private copies stay the owner's.
"""
from __future__ import annotations

from sqlalchemy import Connection, Integer, and_, column, false, func, literal_column, select, table, true
from sqlalchemy.sql.elements import ColumnElement, UnaryExpression
from sqlalchemy.sql.operators import custom_op

from ..models import BOOKMARKS, PAGE_COPIES
from ..states import Visibility
from .search import Query, Term, to_fts5, to_tsquery

PAGE_FTS = table("page_copies_fts", column("rowid", Integer))
PAGE_FTS_TABLE = literal_column("page_copies_fts")
OWN_FTS = table("bookmarks_fts", column("rowid", Integer))
OWN_FTS_TABLE = literal_column("bookmarks_fts")


def _readers_filter(readers_see_copies: bool, sqlite: bool) -> ColumnElement[bool]:
    shared = PAGE_COPIES.c.readers.is_(True) | (PAGE_COPIES.c.readers.is_(None) & (true() if readers_see_copies
                                                                                    else false()))
    # On SQLite a unary + keeps the planner from driving the join from the visibility index (a full-text match
    # per public bookmark) instead of from the page index's matches.
    visibility = UnaryExpression(BOOKMARKS.c.visibility, operator=custom_op("+")) if sqlite else BOOKMARKS.c.visibility
    return and_(visibility == Visibility.PUBLIC, shared)


def _plain(term: Term) -> Term:
    return Term(term.text, term.phrase)


def _matches(conn: Connection, query: Query, owner: bool, readers_see_copies: bool):  # noqa: ANN202
    """(a select of the matching bookmark ids with their score, the order of the score) on either database."""
    own_included = Query(query.included)
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import TSVECTOR

        page_vector = literal_column("page_copies.search_vector", TSVECTOR)
        own_vector = literal_column("bookmarks.search_vector", TSVECTOR)
        matched, wanted = to_tsquery(query)
        score = func.ts_rank_cd(page_vector, wanted)
        own_inc, _ = to_tsquery(own_included)
        where = [func.numnode(wanted) > 0, page_vector.op("@@")(matched), ~own_vector.op("@@", is_comparison=True)(own_inc)]
        if query.excluded:
            unwanted, _ = to_tsquery(Query(tuple(_plain(t) for t in query.excluded)))
            where.append(~own_vector.op("@@", is_comparison=True)(unwanted))
        stmt = select(BOOKMARKS.c.id, score.label("score")).select_from(
            PAGE_COPIES.join(BOOKMARKS, BOOKMARKS.c.id == PAGE_COPIES.c.bookmark_id)).where(*where)
        order = [score.desc()]
    else:
        score = func.bm25(PAGE_FTS_TABLE)
        own_inc = select(OWN_FTS.c.rowid).where(OWN_FTS_TABLE.op("MATCH")(to_fts5(own_included)))
        where = [PAGE_FTS_TABLE.op("MATCH")(to_fts5(query)), BOOKMARKS.c.id.not_in(own_inc)]
        if query.excluded:
            any_excluded = " OR ".join(to_fts5(Query((_plain(t),))) for t in query.excluded)
            where.append(BOOKMARKS.c.id.not_in(select(OWN_FTS.c.rowid).where(OWN_FTS_TABLE.op("MATCH")(any_excluded))))
        stmt = select(BOOKMARKS.c.id, score.label("score")).select_from(
            PAGE_FTS.join(BOOKMARKS, BOOKMARKS.c.id == PAGE_FTS.c.rowid)
            .join(PAGE_COPIES, PAGE_COPIES.c.bookmark_id == BOOKMARKS.c.id)).where(*where)
        order = [score]
    if not owner:
        stmt = stmt.where(_readers_filter(readers_see_copies, conn.dialect.name != "postgresql"))
    return stmt, order


def ranked_ids(conn: Connection, query: Query, *, owner: bool, readers_see_copies: bool,
               limit: int, offset: int) -> list[int]:
    """Bookmarks found only by their saved page, best first, ties newest first."""
    stmt, order = _matches(conn, query, owner, readers_see_copies)
    stmt = stmt.order_by(*order, BOOKMARKS.c.created_at.desc(), BOOKMARKS.c.id.desc()).limit(limit).offset(offset)
    return [row.id for row in conn.execute(stmt)]


def count(conn: Connection, query: Query, *, owner: bool, readers_see_copies: bool, cap: int) -> int:
    """How many bookmarks only their page finds, counting at most ``cap + 1``."""
    stmt, _ = _matches(conn, query, owner, readers_see_copies)
    return conn.execute(select(func.count()).select_from(stmt.limit(cap + 1).subquery())).scalar_one()


__all__ = ["count", "ranked_ids"]

