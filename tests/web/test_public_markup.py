"""Public pages as machines read them: microformats2 (mf2py), OpenGraph, canonical and feed discovery."""
from __future__ import annotations

from datetime import datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import mf2py
import pytest
from sqlalchemy import insert, select

from linkblog import markup
from linkblog.models import Bookmark, Weeknote
from linkblog.web import iso

from tests.support.app import BASE_URL

NASTY = '<script>&"'
SITE_FEEDS = [("application/atom+xml", "/feeds/all.atom"), ("application/rss+xml", "/feeds/all.rss"),
              ("application/feed+json", "/feeds/all.json")]


class Head(HTMLParser):
    """Collects <meta property/name> and <link rel> from a page."""

    def __init__(self) -> None:
        super().__init__()
        self.meta: dict[str, list[str]] = {}
        self.links: list[dict[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "meta" and ("property" in values or "name" in values):
            self.meta.setdefault(values.get("property") or values["name"], []).append(values.get("content", ""))
        elif tag == "link":
            self.links.append(values)


def head_of(html: str) -> Head:
    parser = Head()
    parser.feed(html)
    return parser


def canonical(head: Head) -> list[str]:
    return [link["href"] for link in head.links if link.get("rel") == "canonical"]


def feed_links(head: Head) -> list[tuple[str, str]]:
    return [(link["type"], link["href"]) for link in head.links if link.get("rel") == "alternate"]


def get(client, path: str) -> tuple[str, dict[str, Any]]:  # noqa: ANN001
    response = client.get(path)
    assert response.status_code == 200, path
    html = response.get_data(as_text=True)
    return html, mf2py.parse(doc=html, url=BASE_URL + path)


def of_type(items: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [item for item in items if kind in item["type"]]


@pytest.fixture
def content(engine, make_bookmark) -> dict[str, Any]:  # noqa: ANN001
    ids = {
        "first": make_bookmark("https://one.example/page?x=1&y=2", "First link", tags="web python",
                               created_at=datetime(2026, 3, 2, 10), annotation="Worth *reading*.",
                               quote="the exact words"),
        "nasty": make_bookmark("https://two.example/", NASTY, tags="web", created_at=datetime(2026, 3, 3, 10)),
        "unlisted": make_bookmark("https://u.example/", "Unlisted link", tags="web", visibility="unlisted",
                                  created_at=datetime(2026, 3, 4, 10)),
        "private": make_bookmark("https://p.example/", "Private link", tags="web", visibility="private",
                                 created_at=datetime(2026, 3, 5, 10)),
    }
    published = datetime(2026, 3, 8, 12, 0, 0)
    with engine.begin() as conn:
        for week, title, status, at in (("2026-W10", "Week ten", "published", published),
                                        ("2026-W11", "Draft note", "draft", None)):
            body = f"Notes for *{week}*."
            conn.execute(insert(Weeknote).values(
                week=week, title=title, body=body, body_html=markup.render_markdown(body), status=status,
                visibility="public", created_at=published - timedelta(days=1), updated_at=published,
                published_at=at))
    with engine.connect() as conn:
        ids["rows"] = {r.id: r for r in conn.execute(select(Bookmark))}
    return ids


def check_bookmark_entry(entry: dict[str, Any], row) -> None:  # noqa: ANN001
    props = entry["properties"]
    assert entry["type"] == ["h-entry"]
    assert props["name"] == [row.title]
    cite = props["bookmark-of"][0]
    assert cite["type"] == ["h-cite"] and cite["value"] == row.url
    assert cite["properties"]["url"] == [row.url] and cite["properties"]["name"] == [row.title]
    assert props["url"] == [f"{BASE_URL}/bookmarks/{row.id}"]
    assert props["uid"] == [f"{BASE_URL}/bookmarks/{row.id}"]
    assert props["published"] == [iso(row.created_at)]
    assert props.get("category", []) == row.tags_text.split()
    if row.annotation_html:
        assert props["content"][0]["html"].strip() == row.annotation_html.strip()
    else:
        assert "content" not in props


def test_home_is_an_h_feed_of_bookmarks_and_weeknotes(client, content):
    html, parsed = get(client, "/")
    feed, = of_type(parsed["items"], "h-feed")
    assert feed["properties"]["name"] == ["My links"]
    entries = feed["children"]
    assert len(entries) == 3  # the weeknote, then the two public bookmarks; nothing hidden
    note, nasty, first = entries
    assert note["properties"]["name"] == ["Week ten"]
    assert note["properties"]["url"] == [f"{BASE_URL}/weeknotes/2026-W10"]
    assert note["properties"]["published"] == ["2026-03-08T12:00:00Z"]
    check_bookmark_entry(nasty, content["rows"][content["nasty"]])
    check_bookmark_entry(first, content["rows"][content["first"]])
    assert "<script>&" not in html  # the title is escaped in the page too

    head = head_of(html)
    assert canonical(head) == [f"{BASE_URL}/"]
    assert head.meta["og:type"] == ["website"]
    assert head.meta["og:url"] == [f"{BASE_URL}/"]
    assert head.meta["og:title"] == head.meta["og:site_name"] == ["My links"]
    assert head.meta["og:description"] == ["Links I saved, with notes."]
    assert feed_links(head) == SITE_FEEDS
    for rel_url in ("/feeds/all.atom", "/feeds/all.rss", "/feeds/all.json"):
        assert parsed["rels"]["alternate"].count(BASE_URL + rel_url) == 1


def test_bookmark_permalink_is_an_h_entry_with_opengraph(client, content):
    row = content["rows"][content["first"]]
    path = f"/bookmarks/{row.id}"
    html, parsed = get(client, path)
    entry, = of_type(parsed["items"], "h-entry")
    check_bookmark_entry(entry, row)
    assert entry["properties"]["content"][0]["html"].strip() == "<p>Worth <em>reading</em>.</p>"
    assert entry["properties"]["updated"] == [iso(row.updated_at)]

    head = head_of(html)
    assert canonical(head) == [BASE_URL + path]
    assert head.meta["og:type"] == ["article"]
    assert head.meta["og:title"] == ["First link"]
    assert head.meta["og:url"] == [BASE_URL + path]
    assert head.meta["og:site_name"] == ["My links"]
    assert head.meta["og:description"] == ["Worth *reading*."]
    assert head.meta["article:published_time"] == ["2026-03-02T10:00:00Z"]
    assert head.meta["article:tag"] == ["web", "python"]
    assert "robots" not in head.meta
    assert feed_links(head) == SITE_FEEDS


def test_markup_in_a_title_is_escaped_in_mf2_and_opengraph(client, content):
    row = content["rows"][content["nasty"]]
    html, parsed = get(client, f"/bookmarks/{row.id}")
    entry, = of_type(parsed["items"], "h-entry")
    assert entry["properties"]["name"] == [NASTY]
    head = head_of(html)
    assert head.meta["og:title"] == [NASTY]
    assert "<script>" not in html


def test_unlisted_permalink_works_but_asks_not_to_be_indexed(client, content):
    row = content["rows"][content["unlisted"]]
    html, parsed = get(client, f"/bookmarks/{row.id}")
    entry, = of_type(parsed["items"], "h-entry")
    assert entry["properties"]["name"] == ["Unlisted link"]
    head = head_of(html)
    assert head.meta["robots"] == ["noindex"]
    assert canonical(head) == [f"{BASE_URL}/bookmarks/{row.id}"]


def test_tag_page_is_an_h_feed_that_advertises_its_own_feeds(client, content):
    html, parsed = get(client, "/tags/web")
    feed, = of_type(parsed["items"], "h-feed")
    assert feed["properties"]["name"] == ["#web"]
    rows = content["rows"]
    assert [e["properties"]["url"][0] for e in feed["children"]] == [
        f"{BASE_URL}/bookmarks/{content['nasty']}", f"{BASE_URL}/bookmarks/{content['first']}"]
    check_bookmark_entry(feed["children"][1], rows[content["first"]])

    head = head_of(html)
    assert canonical(head) == [f"{BASE_URL}/tags/web"]
    assert feed_links(head) == [("application/atom+xml", "/feeds/tags/web.atom"),
                                ("application/rss+xml", "/feeds/tags/web.rss"),
                                ("application/feed+json", "/feeds/tags/web.json")] + SITE_FEEDS
    for fmt in ("atom", "rss", "json"):
        assert f"{BASE_URL}/feeds/tags/web.{fmt}" in parsed["rels"]["alternate"]
        assert client.get(f"/feeds/tags/web.{fmt}").status_code == 200


def test_published_weeknote_is_an_h_entry_with_opengraph(client, content):
    path = "/weeknotes/2026-W10"
    html, parsed = get(client, path)
    entry, = of_type(parsed["items"], "h-entry")
    props = entry["properties"]
    assert props["name"] == ["Week ten"]
    assert props["url"] == props["uid"] == [BASE_URL + path]
    assert props["published"] == ["2026-03-08T12:00:00Z"]
    assert props["content"][0]["html"].strip() == "<p>Notes for <em>2026-W10</em>.</p>"

    head = head_of(html)
    assert canonical(head) == [BASE_URL + path]
    assert head.meta["og:type"] == ["article"]
    assert head.meta["og:title"] == ["Week ten"]
    assert head.meta["og:url"] == [BASE_URL + path]
    assert head.meta["og:site_name"] == ["My links"]
    assert feed_links(head) == SITE_FEEDS


def test_weeknote_index_advertises_the_weeknote_feeds(client, content):
    html, _ = get(client, "/weeknotes/")
    assert feed_links(head_of(html)) == [("application/atom+xml", "/feeds/weeknotes.atom"),
                                         ("application/rss+xml", "/feeds/weeknotes.rss"),
                                         ("application/feed+json", "/feeds/weeknotes.json")]
    assert "Draft note" not in html
    assert client.get("/weeknotes/2026-W11").status_code == 404


def test_every_advertised_feed_answers(client, content):
    for path in ("/", "/tags/web", "/weeknotes/", "/weeknotes/2026-W10", f"/bookmarks/{content['first']}",
                 "/feeds/"):
        for _, href in feed_links(head_of(client.get(path).get_data(as_text=True))):
            response = client.get(href)
            assert response.status_code == 200, href
            assert response.content_type.startswith(("application/atom+xml", "application/rss+xml",
                                                      "application/feed+json"))
