"""The pure readers of what other servers send: no app, no database."""
from __future__ import annotations

from datetime import datetime

import pytest

from linkblog.federation import reading as AS

BASE = "http://links.test"
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
FOLLOWERS = f"{BASE}/actor/followers"


def test_as_list():
    assert AS.as_list(None) == []
    assert AS.as_list("x") == ["x"]
    assert AS.as_list({"id": "x"}) == [{"id": "x"}]
    items = ["a", "b"]
    assert AS.as_list(items) is items
    assert AS.as_list(("a",)) == ["a"]


def test_id_of():
    assert AS.id_of("https://a.example/1") == "https://a.example/1"
    assert AS.id_of({"id": "https://a.example/1", "type": "Note"}) == "https://a.example/1"
    assert AS.id_of({"type": "Link", "href": "https://a.example/2"}) == "https://a.example/2"
    assert AS.id_of({"type": "Note"}) is None
    assert AS.id_of({"id": 5}) is None
    assert AS.id_of(None) is None
    assert AS.id_of(["https://a.example/1"]) is None


@pytest.mark.parametrize("address, expected", [
    (PUBLIC, True), ("as:Public", True), ("Public", True), ({"id": PUBLIC}, True),
    (FOLLOWERS, False), ("https://www.w3.org/ns/activitystreams#public", False), (None, False),
])
def test_is_public(address, expected):
    assert AS.is_public(address) is expected


def test_audience_flattens_every_form():
    activity = {"to": "as:Public", "cc": [FOLLOWERS, {"id": "https://a.example/u/1"}, FOLLOWERS],
                "audience": {"id": "https://lemmy.example/c/x", "type": "Group"}, "bcc": None}
    assert AS.audience(activity) == ["as:Public", FOLLOWERS, "https://a.example/u/1", "https://lemmy.example/c/x"]
    assert AS.audience({}) == []
    assert AS.audience("nope") == []


def test_has_type():
    assert AS.has_type({"type": ["Note", "Object"]}, "Note")
    assert AS.has_type({"type": "Link"}, "Link")
    assert not AS.has_type("Note", "Note")


def test_first_link_prefers_a_link_attachment():
    obj = {"id": "https://b.example/1", "content": '<p><a href="https://elsewhere.example/">x</a></p>',
           "attachment": [{"type": "Document", "url": "https://b.example/img.png"},
                          {"type": "Link", "href": "https://bookmarked.example/page"}]}
    assert AS.first_link(obj) == "https://bookmarked.example/page"


def test_first_link_skips_mentions_hashtags_quotes_and_own_host():
    content = ('<p><span class="h-card"><a href="https://m.example/@ann" class="u-url mention">@ann</a></span> '
               '<a href="https://m.example/tags/x" class="mention hashtag" rel="tag">#x</a> '
               '<a href="https://other.example/tags/y" rel="tag">#y</a> '
               '<a href="https://m.example/media/1">media</a> <a href="/relative">rel</a> '
               '<a href="https://q.example/notes/9">quoted</a> '
               '<span class="quote-inline"><br>RE: <a href="https://q.example/@bob/9">q</a></span> '
               '<a href="https://article.example/read?x=1&amp;y=2">read</a></p>')
    obj = {"id": "https://m.example/users/me/statuses/1", "url": "https://m.example/@me/1", "content": content,
           "quoteUrl": "https://q.example/notes/9",
           "tag": [{"type": "Mention", "href": "https://m.example/@ann"}]}
    assert AS.first_link(obj) == "https://article.example/read?x=1&y=2"


def test_first_link_falls_back_to_a_foreign_url():
    assert AS.first_link({"id": "https://p.example/posts/1", "url": "https://p.example/posts/1"}) is None
    assert AS.first_link({"id": "https://p.example/posts/1", "url": "https://p.example/@me/1"}) is None
    foreign = {"id": "https://p.example/posts/1", "url": {"type": "Link", "href": "https://news.example/story"}}
    assert AS.first_link(foreign) == "https://news.example/story"


def test_first_link_reads_content_map_and_unwraps_create():
    note = {"id": "https://m.example/1", "contentMap": {"de": '<a href="https://de.example/">x</a>'}}
    assert AS.first_link({"type": "Create", "object": note}) == "https://de.example/"
    assert AS.first_link({"id": "https://m.example/1", "content": "<p>no links</p>"}) is None
    assert AS.first_link("https://m.example/1") is None
    assert AS.first_link({"content": "<a href='javascript:alert(1)'>x</a><a href=\"mailto:a@b\">y</a>"}) is None


def test_text_excerpt():
    assert AS.text_excerpt("<p>a</p><p>b<br>c</p>") == "a b c"
    assert AS.text_excerpt("<p>one two three</p>", limit=9) == "one two…"
    assert AS.text_excerpt("") == ""


def test_is_web_fits_our_columns_while_first_link_takes_any_length():
    from linkblog.models import URL_MAX
    from linkblog.urls import host_of, is_http_url, is_web

    long = "https://news.example/" + "a" * URL_MAX
    assert is_http_url(long) and not is_web(long)
    assert is_web("https://news.example/story") and not is_web("ftp://news.example/") and not is_web(None)
    assert not is_http_url("https:///no-host") and not is_http_url(5)
    assert AS.first_link({"id": "https://p.example/1", "attachment": {"type": "Link", "href": long}}) == long
    assert host_of("https://News.Example:8443/x") == "news.example:8443" and host_of(None) == ""


def test_audience_keeps_each_address_once_in_order():
    activity = {"to": ["b", "a", "b", {"id": "c"}], "cc": ["a", "d"], "bcc": "c"}
    assert AS.audience(activity) == ["b", "a", "c", "d"]


def test_first_link_reads_only_the_start_of_the_content():
    post = {"id": "https://r.example/1", "content": "<p>" + "<i>x</i>" * 10 + '<a href="https://l.example/">l</a></p>'}
    assert AS.first_link(post) == "https://l.example/"
    assert AS.first_link(post, max_tags=20) is None
    assert AS.first_link(post, max_chars=60) is None
    hostile = {"id": "https://r.example/1", "content": '<a href="https://l.example/">l</a>' + "<a " * 100_000}
    assert AS.first_link(hostile) == "https://l.example/"


@pytest.mark.parametrize(("value", "expected"), [
    ("2026-03-01T10:00:00Z", datetime(2026, 3, 1, 10)),
    ("2026-03-03T11:59:59+00:00", datetime(2026, 3, 3, 11, 59, 59)),   # within a day ahead: clocks drift
    ("1970-01-01T00:00:00Z", datetime(1970, 1, 1)),
    ("2026-03-03T12:00:01Z", None), ("9999-12-31T23:59:59Z", None), ("0001-01-01T00:00:00Z", None),
    ("0001-01-01T00:00:00+14:00", None), ("1969-12-31T23:59:59Z", None), ("yesterday", None), (None, None),
])
def test_remote_times_outside_1970_to_a_day_ahead_are_not_believed(value, expected):
    assert AS.remote_time(value, datetime(2026, 3, 2, 12)) == expected
