"""The search box parser and its renderers: user text becomes terms, never engine syntax."""
from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy.dialects import postgresql

from linkblog.queries.search import QUERY_MAX, InvalidQuery, Query, Term, parse, to_fts5, to_tsquery


def included(query: Query) -> list[str]:
    return [t.text for t in query.included]


def excluded(query: Query) -> list[str]:
    return [t.text for t in query.excluded]


def test_plain_words_are_terms():
    query = parse("  rust   error  ")
    assert query.terms == (Term("rust"), Term("error"))
    assert to_fts5(query) == '"rust" AND "error"'


def test_quoted_phrase_is_one_term():
    query = parse('rust "error handling" tips')
    assert query.terms == (Term("rust"), Term("error handling", phrase=True), Term("tips"))
    assert to_fts5(query) == '"rust" AND "error handling" AND "tips"'


def test_exclusions_of_words_and_phrases():
    query = parse('python -django -"hacker news"')
    assert included(query) == ["python"]
    assert query.excluded == (Term("django", excluded=True), Term("hacker news", phrase=True, excluded=True))
    assert to_fts5(query) == '("python") NOT ("django" OR "hacker news")'


def test_a_lone_minus_and_inner_hyphens_do_not_exclude():
    query = parse("state - of-the-art e-mail")
    assert included(query) == ["state", "of-the-art", "e-mail"]
    assert excluded(query) == []


def test_unbalanced_quote_runs_to_the_end():
    query = parse('css "dark mode')
    assert query.terms == (Term("css"), Term("dark mode", phrase=True))
    assert parse('"one').terms == (Term("one"),)


def test_quote_in_the_middle_of_a_word_starts_a_phrase():
    assert included(parse('foo"bar baz" qux')) == ["foo", "bar baz", "qux"]


def test_empty_phrase_and_repeated_terms_are_dropped():
    query = parse('rust "" Rust "rust" -go -GO')
    assert included(query) == ["rust"]
    assert excluded(query) == ["go"]


@pytest.mark.parametrize("text", ["AND", "OR", "NOT", "NEAR"])
def test_operator_words_are_plain_words(text: str):
    query = parse(f"cats {text} dogs")
    assert included(query) == ["cats", text, "dogs"]
    assert to_fts5(query) == f'"cats" AND "{text}" AND "dogs"'


@pytest.mark.parametrize("text, words", [
    ("NEAR(rust go)", ["NEAR(rust", "go"]),
    ("NEAR(", ["NEAR"]),
    ("title: rust", ["title", "rust"]),
    ("title:rust", ["title:rust"]),
    ("rust*", ["rust"]),
    ("^rust", ["rust"]),
    ("(a OR b)", ["a", "OR", "b"]),
    ("{title url}: x", ["title", "url", "x"]),
    ("rust + go", ["rust", "go"]),
    ("it's", ["it's"]),
    ("'; DROP TABLE bookmarks;--", ["DROP", "TABLE", "bookmarks"]),
])
def test_fts5_syntax_is_only_text(text: str, words: list[str]):
    query = parse(text)
    assert included(query) == words
    expression = to_fts5(query)
    assert expression == " AND ".join(f'"{w}"' for w in words)


def test_rendered_fts5_expression_is_always_valid():
    """Whatever is typed, FTS5 accepts the rendered expression (it would raise on a syntax error)."""
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE t USING fts5(title, body, tokenize='porter unicode61 remove_diacritics 2')")
    db.execute("INSERT INTO t VALUES ('NEAR the title', 'rust * body')")
    hostile = ['NEAR(a b', 'title:x', 'a * b', '"a" "b', '^a', 'a AND', 'OR b', 'NOT', '-"a b" c', "x'y",
               'a\\b', ';--x', 'x)(', '{title}:y', 'a:b:c', 'near/3', 'x"', 'é"', 'a""b']
    for text in hostile:
        db.execute("SELECT rowid FROM t WHERE t MATCH ?", (to_fts5(parse(text)),)).fetchall()
    for text, count in [("NEAR(the title", 1), ("title:rust", 0), ("near title", 1), ("body*", 1), ("bod*", 0)]:
        matched = db.execute("SELECT count(*) FROM t WHERE t MATCH ?", (to_fts5(parse(text)),)).fetchone()
        assert matched == (count,), text


@pytest.mark.parametrize("text", ["", "   ", '""', "-rust", '-"a phrase" -b', "* ^ : ( )", ";--", "'", "\\", '"'])
def test_no_word_to_look_for_is_refused(text: str):
    with pytest.raises(InvalidQuery, match="at least one word"):
        parse(text)


def test_exclusions_alone_say_why():
    with pytest.raises(InvalidQuery, match="minus sign"):
        parse("-rust")


def test_too_long_is_refused():
    parse("a" * QUERY_MAX)
    with pytest.raises(InvalidQuery, match="limit is 500"):
        parse("a" * (QUERY_MAX + 1))


def test_unicode_words_and_diacritics_are_kept():
    query = parse("café Zürich naïve 東京 Ελλάδα")
    assert included(query) == ["café", "Zürich", "naïve", "東京", "Ελλάδα"]
    assert to_fts5(query) == '"café" AND "Zürich" AND "naïve" AND "東京" AND "Ελλάδα"'


def test_decomposed_accents_are_composed():
    assert included(parse("cafe\u0301")) == ["café"]


def test_control_characters_and_nul_are_spaces():
    assert included(parse("rust\x00go\tzig\u200bx")) == ["rust", "go", "zig", "x"]


def test_words_split_on_inner_punctuation():
    assert Term("node.js").words == ("node", "js")
    assert Term("title:rust").words == ("title", "rust")
    assert Term("naïve café").words == ("naïve", "café")


def test_tsquery_uses_bound_parameters_only():
    query = parse("""rust "error handling" node.js -python -"it's; DROP TABLE x" """)
    matched, ranked = to_tsquery(query)
    compiled = matched.compile(dialect=postgresql.dialect())
    sql = str(compiled)
    assert "DROP" not in sql and "rust" not in sql and "'" not in sql
    values = list(compiled.params.values())
    assert {"rust", "error handling", "node.js", "node js", "python", "it's DROP TABLE x", "it s DROP TABLE x"} \
        <= set(values)
    assert sql.count("!!") == 1
    assert "!!" not in str(ranked.compile(dialect=postgresql.dialect()))
