"""compat/linkding.py: linkding's search syntax parsed as linkding parses it, and the field mapping."""
from __future__ import annotations

import pytest

from linkblog.compat.linkding import (MAX_DEPTH, MAX_QUERY, And, FieldErrors, Keyword, Not, Or, SearchSyntaxError,
                                      TagTerm, Term, parse_query, read_body, visibility_for)


@pytest.mark.parametrize(("query", "tree"), [
    ("history", Term("history")),
    ("history rome #book", And(And(Term("history"), Term("rome")), TagTerm("book"))),
    ('"history of rome" #book', And(Term("history of rome"), TagTerm("book"))),
    ("#article or #book", Or(TagTerm("article"), TagTerm("book"))),
    ("rome (#article or #book)", And(Term("rome"), Or(TagTerm("article"), TagTerm("book")))),
    ("history rome not #article", And(And(Term("history"), Term("rome")), Not(TagTerm("article")))),
    ("a or b c", Or(Term("a"), And(Term("b"), Term("c")))),         # and binds tighter than or
    ("not not a", Not(Not(Term("a")))),
    ("!Unread !untagged", And(Keyword("unread"), Keyword("untagged"))),
    ("AND", None),
    ('"beyond good and evil"', Term("beyond good and evil")),
    ("'it\\'s'", Term("it's")),
    ('"unclosed phrase', Term("unclosed phrase")),
    ("# ! word", Term("word")),                                       # an empty tag or keyword is dropped
    ("a#b", And(Term("a"), TagTerm("b"))),
])
def test_parse_query_builds_linkdings_tree(query, tree):
    if tree is None:
        with pytest.raises(SearchSyntaxError):
            parse_query(query)
    else:
        assert parse_query(query) == tree


@pytest.mark.parametrize("query", ["(a", "a)", "a or", "not", "()", "a and and b"])
def test_what_linkding_cannot_parse_is_a_syntax_error(query):
    with pytest.raises(SearchSyntaxError):
        parse_query(query)


def test_empty_queries_filter_nothing_and_hostile_ones_are_refused_not_recursed():
    assert parse_query(None) is None and parse_query("   ") is None
    with pytest.raises(SearchSyntaxError):
        parse_query("(" * (MAX_DEPTH + 1) + "a" + ")" * (MAX_DEPTH + 1))
    with pytest.raises(SearchSyntaxError):
        parse_query("not " * 10_000 + "a")
    with pytest.raises(SearchSyntaxError):
        parse_query("a" * (MAX_QUERY + 1))
    assert parse_query("(" * MAX_DEPTH + "a" + ")" * MAX_DEPTH) == Term("a")


def test_read_body_maps_linkdings_names_and_ignores_read_only_fields():
    changes = read_body({"url": "https://example.org/", "description": "q", "notes": "n", "tag_names": ["a"],
                         "unread": "true", "shared": 0, "is_archived": "on", "favicon_url": "x", "id": 5},
                        creating=True)
    assert changes.fields == {"url": "https://example.org/", "quote": "q", "annotation": "n", "tags": ["a"],
                              "toread": True}
    assert changes.shared is False and changes.archived is True
    with pytest.raises(FieldErrors) as caught:
        read_body({"unread": 2, "tag_names": [1]}, creating=True)
    assert caught.value.errors == {"url": ["This field is required."], "tag_names": ["Not a valid string."],
                                   "unread": ["Must be a valid boolean."]}


@pytest.mark.parametrize(("shared", "current", "result"), [
    (True, "public", "public"), (True, "unlisted", "unlisted"), (True, "followers", "public"),
    (True, "private", "public"), (False, "public", "private"), (False, "unlisted", "private"),
    (False, "followers", "followers"), (False, "private", "private"),
])
def test_visibility_for_keeps_what_already_agrees(shared, current, result):
    assert visibility_for(shared, current) == result
