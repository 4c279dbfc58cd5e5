"""Full-text search with the database's own engine: FTS5 on SQLite, tsvector/tsquery on PostgreSQL.

User text is parsed here into a small structure and then rendered for each engine by us, never passed
through: FTS5 and tsquery both have their own syntax (``NEAR``, ``*``, ``:``, ``^``, ``&``, ``!``, column
filters) and a reader's search box must not be able to speak it, nor to cause a syntax error.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Integer, case, column, func, literal_column, select, table
from sqlalchemy.sql.elements import ColumnElement, UnaryExpression
from sqlalchemy.sql.operators import custom_op

from ..models import BOOKMARKS, WEEKNOTES
from ..states import Visibility, WeeknoteStatus
from .bookmarks import BOOKMARK_COLUMNS, bookmark_item
from .fold import fold
from .weeknotes import WEEKNOTE_COLUMNS, weeknote_item

QUERY_MAX = 500
TS_CONFIG = "english"  # must match the config of bookmarks.search_vector (migration 0002)
# bm25 weights in the FTS5 column order: title, tags_text, annotation, quote, url.
FTS_WEIGHTS = (10.0, 8.0, 3.0, 2.0, 1.0)
SHORTLIST_MAX = 300  # deeper pages than this rank with the join straight away

FTS = table("bookmarks_fts", column("rowid", Integer))
FTS_TABLE = literal_column("bookmarks_fts")
# Weeknotes have their own index (migration 0009): bm25 weights for title, body.
NOTES_FTS = table("weeknotes_fts", column("rowid", Integer))
NOTES_FTS_TABLE = literal_column("weeknotes_fts")
NOTES_FTS_WEIGHTS = (10.0, 3.0)
WEEKNOTES_SHOWN = 10  # weeknotes listed above the first page of bookmarks


class InvalidQuery(ValueError):
    """The text cannot be searched for; the message tells the reader what to change."""


@dataclass(frozen=True)
class Term:
    """One thing to look for: a word as typed (``node.js``) or a "quoted phrase", maybe excluded."""

    text: str
    phrase: bool = False
    excluded: bool = False

    @property
    def words(self) -> tuple[str, ...]:
        """The letter-and-digit runs of ``text``: how an index that splits on punctuation sees it."""
        runs: list[str] = []
        current: list[str] = []
        for ch in self.text:
            if _is_word_char(ch) or (current and unicodedata.category(ch).startswith("M")):
                current.append(ch)
            elif current:
                runs.append("".join(current))
                current = []
        if current:
            runs.append("".join(current))
        return tuple(runs)


@dataclass(frozen=True)
class Query:
    terms: tuple[Term, ...]

    @property
    def included(self) -> tuple[Term, ...]:
        return tuple(t for t in self.terms if not t.excluded)

    @property
    def excluded(self) -> tuple[Term, ...]:
        return tuple(t for t in self.terms if t.excluded)


@dataclass
class Results:
    items: list[dict[str, Any]]
    more: bool


def _is_word_char(ch: str) -> bool:
    """Letters and digits in any script; everything else only separates or decorates words."""
    return unicodedata.category(ch)[0] in "LN"


def _clean_chunk(chunk: str) -> str:
    """Drop punctuation around a word (``NEAR(`` → ``NEAR``, ``title:`` → ``title``); keep it inside."""
    start, end = 0, len(chunk)
    while start < end and not _is_word_char(chunk[start]):
        start += 1
    while end > start and not (_is_word_char(chunk[end - 1]) or unicodedata.category(chunk[end - 1])[0] == "M"):
        end -= 1
    return chunk[start:end]


def _clean_phrase(text: str) -> str:
    return " ".join(c for c in (_clean_chunk(w) for w in text.split()) if c)


def parse(text: str) -> Query:
    """Split a search box into terms, "phrases", ``-excluded`` words and ``-"excluded phrases"``.

    Everything else is plain text: operators typed by the reader (AND, OR, NOT, NEAR, ``*``, ``^``,
    ``title:``) are just words or punctuation. An unclosed quote runs to the end of the text.
    Raises InvalidQuery when the text is too long or has no word to look for (only exclusions or
    only punctuation), because neither engine can answer that cheaply or meaningfully.
    """
    if len(text) > QUERY_MAX:
        raise InvalidQuery(f"The search is {len(text):,} characters long; the limit is {QUERY_MAX}.")
    text = unicodedata.normalize("NFC", text)
    text = "".join(" " if unicodedata.category(ch)[0] in "CZ" and ch not in "\u200c\u200d" else ch
                   for ch in text)  # control, format and separator characters are all just spaces
    terms: list[Term] = []
    seen: set[tuple[str, bool]] = set()
    i, n = 0, len(text)
    while i < n:
        if text[i] == " ":
            i += 1
            continue
        excluded = text[i] == "-" and i + 1 < n and text[i + 1] != " "
        if excluded:
            i += 1
        if text[i] == '"':
            close = text.find('"', i + 1)
            close = n if close == -1 else close
            cleaned, phrase = _clean_phrase(text[i + 1:close]), True
            i = close + 1
        else:
            end = i
            while end < n and text[end] not in ' "':
                end += 1
            cleaned, phrase = _clean_chunk(text[i:end]), False
            i = end
        key = (cleaned.casefold(), excluded)
        if cleaned and key not in seen:
            seen.add(key)
            terms.append(Term(cleaned, phrase=phrase and " " in cleaned, excluded=excluded))
    query = Query(tuple(terms))
    if not query.included:
        raise InvalidQuery("Add at least one word to search for"
                           + (" (a minus sign only leaves words out)." if query.excluded else "."))
    return query


def _fts5_string(term: Term) -> str:
    """An FTS5 string: the engine tokenises it like the documents, so nothing in it is syntax."""
    return '"' + term.text.replace('"', '""') + '"'


def to_fts5(query: Query) -> str:
    """A MATCH expression; every term quoted, joined only by operators we write ourselves."""
    expression = " AND ".join(_fts5_string(t) for t in query.included)
    if query.excluded:
        expression = f"({expression}) NOT ({' OR '.join(_fts5_string(t) for t in query.excluded)})"
    return expression


def _ts_term(term: Term) -> ColumnElement:
    """A term as tsquery; typed text as the document parser sees it (``node.js`` stays one lexeme)
    or-ed with its words (``example.org`` in a URL is indexed as two), both as bound parameters."""
    from sqlalchemy.dialects.postgresql import TSQUERY  # only PostgreSQL needs these

    # Accents folded as the stored vectors fold them (migration 0017): "cafe" finds "Café".
    as_typed = func.phraseto_tsquery(TS_CONFIG, fold(term.text), type_=TSQUERY)
    split = " ".join(term.words)
    if split == term.text:
        return as_typed
    return as_typed.op("||", return_type=TSQUERY)(func.phraseto_tsquery(TS_CONFIG, fold(split), type_=TSQUERY))


def _ts_all(terms: tuple[Term, ...], operator: str) -> ColumnElement:
    from sqlalchemy.dialects.postgresql import TSQUERY  # only PostgreSQL needs these

    expression = _ts_term(terms[0])
    for term in terms[1:]:
        expression = expression.op(operator, return_type=TSQUERY)(_ts_term(term))
    return expression


def to_tsquery(query: Query) -> tuple[ColumnElement, ColumnElement]:
    """(what to match, what to rank by): included terms and-ed, ``&& !!`` each excluded term."""
    from sqlalchemy.dialects.postgresql import TSQUERY  # only PostgreSQL needs these

    wanted = _ts_all(query.included, "&&")
    matched = wanted
    if query.excluded:
        unwanted = _ts_all(query.excluded, "||")
        negated = UnaryExpression(unwanted.self_group(), operator=custom_op("!!"), type_=TSQUERY)
        matched = wanted.op("&&", return_type=TSQUERY)(negated)
    return matched, wanted


def _fts_score() -> ColumnElement:
    return func.bm25(FTS_TABLE, *FTS_WEIGHTS).label("score")


def _shortlist_sqlite(conn: Connection, query: Query, owner: bool, limit: int, offset: int) -> list[int] | None:
    """Rank in the FTS index alone, then check visibility and ties for a short list of the best.

    Joining every match to ``bookmarks`` (wide rows) costs more than ranking them, so this is the
    fast path. It returns None when the short list cannot prove the page exactly (too many hidden
    matches, a tie with rows left out, a deep page); the caller then ranks with the join.
    """
    need = offset + limit
    if need > SHORTLIST_MAX:
        return None
    size = 2 * need + 10
    score = _fts_score()
    shortlist = conn.execute(select(FTS.c.rowid, score).where(FTS_TABLE.op("MATCH")(to_fts5(query)))
                             .order_by(score, FTS.c.rowid.desc()).limit(size)).all()
    scores = {row.rowid: row.score for row in shortlist}
    if not scores:
        return []
    # Visibility is checked here rather than in SQL, or SQLite may scan the visibility index instead.
    rows = conn.execute(select(BOOKMARKS.c.id, BOOKMARKS.c.created_at, BOOKMARKS.c.visibility)
                        .where(BOOKMARKS.c.id.in_(scores)))
    visible = sorted((r for r in rows if owner or r.visibility == Visibility.PUBLIC),
                     key=lambda r: (r.created_at, r.id), reverse=True)
    visible.sort(key=lambda r: scores[r.id])  # stable: best score first, then newest
    ids = [r.id for r in visible]
    if len(shortlist) < size:  # every match is on the list
        return ids[offset:need]
    # Rows left off the list score no better than its last one; the page is exact if it ends above that.
    if len(ids) >= need and scores[ids[need - 1]] < shortlist[-1].score:
        return ids[offset:need]
    return None


def _ranked_ids_sqlite(conn: Connection, query: Query, owner: bool, limit: int, offset: int) -> list[int]:
    shortlisted = _shortlist_sqlite(conn, query, owner, limit, offset)
    if shortlisted is not None:
        return shortlisted
    score = _fts_score()
    stmt = (select(BOOKMARKS.c.id, score).select_from(FTS.join(BOOKMARKS, BOOKMARKS.c.id == FTS.c.rowid))
            .where(FTS_TABLE.op("MATCH")(to_fts5(query))))
    if not owner:  # unary + keeps SQLite from driving the join from the visibility index
        stmt = stmt.where(UnaryExpression(BOOKMARKS.c.visibility, operator=custom_op("+")) == Visibility.PUBLIC)
    stmt = stmt.order_by(score, BOOKMARKS.c.created_at.desc(), BOOKMARKS.c.id.desc()).limit(limit).offset(offset)
    return [row.id for row in conn.execute(stmt)]


def _ranked_ids_postgres(conn: Connection, query: Query, owner: bool, limit: int, offset: int) -> list[int]:
    """Two tiers, each newest first: bookmarks whose title or tags match (``search_vector_title``, migration
    0017), then those matched only by their annotation, quote or address. Ranking every match with ``ts_rank``
    read the vector of each (a word in 20% of 100,000 bookmarks cost PostgreSQL 30 ms a page); a tier in time
    order stops after one page, from the time index when the word is common or from the GIN index when rare."""
    from sqlalchemy.dialects.postgresql import TSVECTOR  # only PostgreSQL needs these

    vector = literal_column("bookmarks.search_vector", TSVECTOR)
    title = literal_column("bookmarks.search_vector_title", TSVECTOR)
    matched, wanted = to_tsquery(query)
    # Stop words vanish from a tsquery: with nothing wanted left, "!!x" alone would match everything.
    shown = [func.numnode(wanted) > 0] + ([] if owner else [BOOKMARKS.c.visibility == Visibility.PUBLIC])
    in_title = title.op("@@", is_comparison=True)(wanted)
    # A title match is a match: the first tier tests only the title's vector (and the excluded words), so the
    # planner does not take the two conditions for independent and underestimate the tier.
    tier1 = [*shown, in_title]
    if query.excluded:
        tier1.append(~vector.op("@@", is_comparison=True)(_ts_all(query.excluded, "||")))
    where = [*shown, vector.op("@@")(matched)]
    newest = (BOOKMARKS.c.created_at.desc(), BOOKMARKS.c.id.desc())
    first = list(conn.execute(select(BOOKMARKS.c.id).where(*tier1).order_by(*newest)
                              .limit(limit).offset(offset)).scalars())
    if len(first) == limit:
        return first
    # The first tier ends on this page (or before it): its size says where the second tier's page starts.
    if first or not offset:
        before = offset + len(first)
    else:
        before = conn.execute(select(func.count()).select_from(
            select(BOOKMARKS.c.id).where(*tier1).limit(offset).subquery())).scalar_one()
    rest = conn.execute(select(BOOKMARKS.c.id).where(*where, ~in_title).order_by(*newest)
                        .limit(limit - len(first)).offset(max(0, offset - before))).scalars()
    return first + list(rest)


def search(conn: Connection, text: str | Query, *, owner: bool, size: int, offset: int = 0,
           readers_see_copies: bool | None = False) -> Results:
    """One page of bookmarks matching ``text``, best first, ties newest first.

    Readers see public bookmarks only; the owner sees everything. Only ids are ranked in the index
    (plus one extra to know whether there is a next page); the page's rows come in a second query.
    Below every bookmark found by its own words come those found only by their saved page
    (``page_search``), each marked ``matched_in = "page"``; ``readers_see_copies`` is ``[copies]
    readers_may_see`` (None leaves saved pages out of the search).
    """
    query = parse(text) if isinstance(text, str) else text
    ranked = _ranked_ids_postgres if conn.dialect.name == "postgresql" else _ranked_ids_sqlite
    ids = ranked(conn, query, owner, size + 1, offset)
    by_page: set[int] = set()
    if len(ids) <= size and readers_see_copies is not None:
        from . import page_search

        # How many the first tier holds in all: known from this page, or (past its end) counted up to ``offset``.
        before = offset + len(ids) if ids or not offset else count(conn, query, owner=owner, cap=offset).count
        more_ids = page_search.ranked_ids(conn, query, owner=owner, readers_see_copies=readers_see_copies,
                                          limit=size + 1 - len(ids), offset=max(0, offset - before))
        by_page = set(more_ids)
        ids += more_ids
    more = len(ids) > size
    ids = ids[:size]
    if not ids:
        return Results([], more)
    rows = {row.id: row for row in conn.execute(select(*BOOKMARK_COLUMNS).where(BOOKMARKS.c.id.in_(ids)))}
    items = [bookmark_item(rows[i]) for i in ids if i in rows]
    from . import matched

    where = matched.fields(conn, query, [i for i in ids if i not in by_page])
    for item in items:
        item["matched_in"] = "page" if item["id"] in by_page else "bookmark"
        item["matched_fields"] = ["saved page"] if item["id"] in by_page else where.get(item["id"], [])
    return Results(items, more)


def _listed_notes() -> ColumnElement:
    """What readers may find: published, public weeknotes (unlisted ones stay out of search, as bookmarks do)."""
    return (WEEKNOTES.c.status == WeeknoteStatus.PUBLISHED) & (WEEKNOTES.c.visibility == Visibility.PUBLIC)


COUNT_CAP = 1000   # matches counted exactly; past it the page says "at least N"


@dataclass(frozen=True)
class Found:
    """How many bookmarks match, for "Found N links": exact, or a floor (``more``: "at least N") past the cap."""

    count: int
    more: bool = False


def count_with_pages(conn: Connection, text: str | Query, *, owner: bool, readers_see_copies: bool | None,
                     cap: int | None = None) -> Found:
    """``count`` plus the bookmarks found only by their saved page (see ``search``)."""
    query = parse(text) if isinstance(text, str) else text
    cap = COUNT_CAP if cap is None else cap
    found = count(conn, query, owner=owner, cap=cap)
    if found.more or readers_see_copies is None:
        return found
    from . import page_search

    pages = page_search.count(conn, query, owner=owner, readers_see_copies=readers_see_copies, cap=cap - found.count)
    return Found(found.count + pages, found.count + pages > cap)


def count(conn: Connection, text: str | Query, *, owner: bool, cap: int | None = None) -> Found:
    """How many bookmarks match (readers: public ones), counting at most ``cap + 1`` matches: a common word in
    100,000 bookmarks would otherwise cost tens of milliseconds to count, and the join with the visibility
    index once cost SQLite seconds. The matches are read from the full-text index first, then their rows."""
    query = parse(text) if isinstance(text, str) else text
    cap = COUNT_CAP if cap is None else cap
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import TSVECTOR  # only PostgreSQL needs these

        vector = literal_column("bookmarks.search_vector", TSVECTOR)
        matched, wanted = to_tsquery(query)
        # The matches' rows are read by the index scan anyway: no join back to them.
        first = (select(BOOKMARKS.c.visibility)
                 .where(func.numnode(wanted) > 0, vector.op("@@")(matched)).limit(cap + 1).subquery())
        visibility = first.c.visibility
        source = first
    else:
        first = select(FTS.c.rowid).where(FTS_TABLE.op("MATCH")(to_fts5(query))).limit(cap + 1).subquery()
        visibility = BOOKMARKS.c.visibility
        source = first.join(BOOKMARKS, BOOKMARKS.c.id == first.c.rowid)
    public = func.coalesce(func.sum(case((visibility == Visibility.PUBLIC, 1), else_=0)), 0)
    matches, listed = conn.execute(select(func.count(), public).select_from(source)).one()
    return Found(matches if owner else listed, matches > cap)


@dataclass
class NoteResults:
    items: list[dict[str, Any]]
    total: int


def weeknotes(conn: Connection, text: str | Query, *, owner: bool, size: int = WEEKNOTES_SHOWN) -> NoteResults:
    """The best ``size`` weeknotes matching ``text`` (readers: published public ones; the owner: all, drafts
    too), newest week first among equals, and how many match in all."""
    query = parse(text) if isinstance(text, str) else text
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import TSVECTOR  # only PostgreSQL needs these

        vector = literal_column("weeknotes.search_vector", TSVECTOR)
        matched, wanted = to_tsquery(query)
        where = [func.numnode(wanted) > 0, vector.op("@@")(matched)]
        # Title matches first, then the newest week: ts_rank over notes of a few KB each cost more than the page.
        in_title = func.ts_filter(vector, literal_column("'{a}'::\"char\"[]")).op("@@", is_comparison=True)(wanted)
        base = select(*WEEKNOTE_COLUMNS).where(*where)
        total = select(func.count()).select_from(WEEKNOTES).where(*where)
        ordered = base.order_by(in_title.desc(), WEEKNOTES.c.week.desc())
    else:
        joined = NOTES_FTS.join(WEEKNOTES, WEEKNOTES.c.id == NOTES_FTS.c.rowid)
        match = NOTES_FTS_TABLE.op("MATCH")(to_fts5(query))
        score = func.bm25(NOTES_FTS_TABLE, *NOTES_FTS_WEIGHTS)
        base = select(*WEEKNOTE_COLUMNS).select_from(joined).where(match)
        total = select(func.count()).select_from(joined).where(match)
        ordered = base.order_by(score, WEEKNOTES.c.week.desc())
    if not owner:
        ordered, total = ordered.where(_listed_notes()), total.where(_listed_notes())
    items = [weeknote_item(r) for r in conn.execute(ordered.limit(size))]
    return NoteResults(items, conn.execute(total).scalar_one() if items else 0)
