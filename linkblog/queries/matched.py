"""Where each search result matched: its title, tags, annotation, quote or address (or, for the second tier of
``search``, its saved page), so a result can say why it is there. One statement for a page of results, whatever
its size: the index is asked per field, only about the ids on the page."""
from __future__ import annotations

from sqlalchemy import Connection, Integer, case, column, func, literal, literal_column, select, table, union_all

from ..models import BOOKMARKS
from .fold import ACCENTED, PLAIN
from .search import TS_CONFIG, Query, Term, to_fts5

FIELDS = (("title", "title"), ("tags_text", "tags"), ("annotation", "annotation"), ("quote", "quote"),
          ("url", "address"))  # the index's columns (migration 0002) and how the owner reads them
FTS = table("bookmarks_fts", column("rowid", Integer))
FTS_TABLE = literal_column("bookmarks_fts")


def _any(query: Query) -> Query:
    return Query(tuple(Term(t.text, t.phrase) for t in query.included))


def _sqlite(conn: Connection, query: Query, ids: list[int]) -> list[tuple[int, str]]:
    words = " OR ".join(to_fts5(Query((t,))) for t in _any(query).terms)
    parts = [select(FTS.c.rowid, literal(label).label("field"))
             .where(FTS_TABLE.op("MATCH")(f"{name} : ({words})"), FTS.c.rowid.in_(ids)) for name, label in FIELDS]
    return [(row.rowid, row.field) for row in conn.execute(union_all(*parts))]


def _postgres(conn: Connection, query: Query, ids: list[int]) -> list[tuple[int, str]]:
    from sqlalchemy.dialects.postgresql import TSQUERY, TSVECTOR

    from .search import to_tsquery

    terms = _any(query).terms
    wanted = None
    for term in terms:
        one, _ = to_tsquery(Query((term,)))
        wanted = one if wanted is None else wanted.op("||", return_type=TSQUERY)(one)
    # Title and tags are short: their vectors are made again, folded as the index folds them. The long fields
    # are read from the stored vector by weight (migration 0002: annotation B, quote C, address D).
    stored = literal_column("bookmarks.search_vector", TSVECTOR)
    weights = {"annotation": "{b}", "quote": "{c}", "url": "{d}"}
    columns = []
    for name, label in FIELDS:
        if name in weights:
            vector = func.ts_filter(stored, literal_column(f"'{weights[name]}'::\"char\"[]"))
        else:
            text = func.coalesce(BOOKMARKS.c[name], "")
            # translate() compares each character with all of ACCENTED: pure ASCII skips it, as in the index
            text = case((func.octet_length(text) == func.char_length(text), text),
                        else_=func.translate(text, ACCENTED, PLAIN))
            vector = func.to_tsvector(literal_column(f"'{TS_CONFIG}'::regconfig"), text)
        columns.append(vector.op("@@", is_comparison=True)(wanted).label(label))
    found: list[tuple[int, str]] = []
    for row in conn.execute(select(BOOKMARKS.c.id, *columns).where(BOOKMARKS.c.id.in_(ids))).mappings():
        found += [(row["id"], label) for _, label in FIELDS if row[label]]
    return found


def fields(conn: Connection, query: Query, ids: list[int]) -> dict[int, list[str]]:
    """For each id, the fields any wanted word matched in, in the index's order (title first)."""
    if not ids:
        return {}
    pairs = (_postgres if conn.dialect.name == "postgresql" else _sqlite)(conn, query, ids)
    order = {label: n for n, (_, label) in enumerate(FIELDS)}
    found: dict[int, list[str]] = {}
    for bookmark_id, label in sorted(pairs, key=lambda p: order[p[1]]):
        found.setdefault(bookmark_id, []).append(label)
    return found


__all__ = ["FIELDS", "fields"]

