"""Feeds: the pure builders with plain data, then every feed family in every format through the app.

Atom and RSS are read back with feedparser, as a reader would. feedparser 6.0 does not read JSON Feed, so
JSON is checked structurally against the JSON Feed 1.1 spec and normalised to the same shape.
"""
from __future__ import annotations

import calendar
import json
import re
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone
from typing import Any

import feedparser
import pytest
from sqlalchemy import event, insert, select, update

from linkblog import feeds, markup
from linkblog.models import Bookmark, Owner, Weeknote
from linkblog.web import iso

from tests.support.app import BASE_URL

ATOM = "{http://www.w3.org/2005/Atom}"
DC = "{http://purl.org/dc/elements/1.1/}"
FORMATS = ("atom", "rss", "json")
CONTENT_TYPES = {"atom": "application/atom+xml; charset=utf-8", "rss": "application/rss+xml; charset=utf-8",
                 "json": "application/feed+json; charset=utf-8"}
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
NASTY = '<script>&"'


# ---------------------------------------------------------------- pure builders, no app


def meta(**changes: Any) -> feeds.FeedMeta:
    values = dict(title="Links & more", self_url="https://l.example/feeds/all.atom", home_url="https://l.example/",
                  language="de", author="Ann Owner", author_url="https://l.example/", description="Saved <things>")
    values.update(changes)
    return feeds.FeedMeta(**values)


def entry(n: int, **changes: Any) -> dict[str, Any]:
    values = {"id": f"https://l.example/bookmarks/{n}", "url": f"https://l.example/bookmarks/{n}",
              "external_url": f"https://elsewhere.example/{n}?a=1&b=2", "title": f"Entry {n}",
              "content_html": f"<p>Body <em>{n}</em></p>", "published": datetime(2026, 3, n, 10, 0, 0),
              "updated": datetime(2026, 3, n, 11, 30, 0), "tags": ["web", "c++"]}
    values.update(changes)
    return values


def test_atom_document_has_feed_and_entry_fields():
    root = ET.fromstring(feeds.atom(meta(), [entry(2), entry(1, tags=[], external_url=None)]))
    assert root.tag == f"{ATOM}feed"
    assert root.get("{http://www.w3.org/XML/1998/namespace}lang") == "de"
    assert root.findtext(f"{ATOM}id") == "https://l.example/feeds/all.atom"
    assert root.findtext(f"{ATOM}title") == "Links & more"
    assert root.findtext(f"{ATOM}subtitle") == "Saved <things>"
    assert root.findtext(f"{ATOM}updated") == "2026-03-02T11:30:00Z"  # the newest entry
    links = {link.get("rel"): link.get("href") for link in root.findall(f"{ATOM}link")}
    assert links == {"self": "https://l.example/feeds/all.atom", "alternate": "https://l.example/"}
    assert root.findtext(f"{ATOM}author/{ATOM}name") == "Ann Owner"
    first, second = root.findall(f"{ATOM}entry")
    assert first.findtext(f"{ATOM}id") == "https://l.example/bookmarks/2"
    assert first.findtext(f"{ATOM}published") == "2026-03-02T10:00:00Z"
    assert first.findtext(f"{ATOM}updated") == "2026-03-02T11:30:00Z"
    entry_links = {link.get("rel"): link.get("href") for link in first.findall(f"{ATOM}link")}
    assert entry_links == {"alternate": "https://l.example/bookmarks/2",
                           "related": "https://elsewhere.example/2?a=1&b=2"}
    assert [c.get("term") for c in first.findall(f"{ATOM}category")] == ["web", "c++"]
    content = first.find(f"{ATOM}content")
    assert content.get("type") == "html" and content.text == "<p>Body <em>2</em></p>"
    assert [link.get("rel") for link in second.findall(f"{ATOM}link")] == ["alternate"]
    assert second.findall(f"{ATOM}category") == []


def test_rss_document_uses_rfc822_dates_guid_and_extensions():
    root = ET.fromstring(feeds.rss(meta(self_url="https://l.example/feeds/all.rss"), [entry(2)]))
    assert root.tag == "rss" and root.get("version") == "2.0"
    channel = root.find("channel")
    assert channel.findtext("title") == "Links & more"
    assert channel.findtext("link") == "https://l.example/"
    assert channel.findtext("language") == "de"
    assert channel.findtext("lastBuildDate") == "Mon, 02 Mar 2026 11:30:00 GMT"
    assert channel.find(f"{ATOM}link").attrib == {"rel": "self", "type": "application/rss+xml",
                                                   "href": "https://l.example/feeds/all.rss"}
    item = channel.find("item")
    assert item.findtext("pubDate") == "Mon, 02 Mar 2026 10:00:00 GMT"
    assert item.find("guid").get("isPermaLink") == "true"
    assert item.findtext("guid") == item.findtext("link") == "https://l.example/bookmarks/2"
    assert item.findtext(f"{DC}creator") == "Ann Owner"
    assert [c.text for c in item.findall("category")] == ["web", "c++"]
    assert item.findtext("description") == "<p>Body <em>2</em></p>"


def test_json_feed_document_keys_and_values():
    document = json.loads(feeds.json_feed(meta(self_url="https://l.example/feeds/all.json"),
                                          [entry(2), entry(1, tags=[], external_url=None, author="Guest")]))
    assert document["version"] == "https://jsonfeed.org/version/1.1"
    assert document["feed_url"] == "https://l.example/feeds/all.json"
    assert document["home_page_url"] == "https://l.example/"
    assert document["language"] == "de"
    assert document["authors"] == [{"name": "Ann Owner", "url": "https://l.example/"}]
    first, second = document["items"]
    assert first == {"id": "https://l.example/bookmarks/2", "url": "https://l.example/bookmarks/2",
                     "external_url": "https://elsewhere.example/2?a=1&b=2", "title": "Entry 2",
                     "content_html": "<p>Body <em>2</em></p>", "date_published": "2026-03-02T10:00:00Z",
                     "date_modified": "2026-03-02T11:30:00Z", "tags": ["web", "c++"],
                     "authors": [{"name": "Ann Owner", "url": "https://l.example/"}]}
    assert "external_url" not in second and "tags" not in second
    assert second["authors"] == [{"name": "Guest", "url": "https://l.example/"}]


@pytest.mark.parametrize("fmt", FORMATS)
def test_empty_feed_is_valid_and_dated_at_the_epoch(fmt):
    body, content_type = feeds.render(fmt, meta(), [])
    assert content_type == CONTENT_TYPES[fmt]
    if fmt == "json":
        document = json.loads(body)
        assert document["items"] == [] and document["version"] == feeds.JSON_FEED_VERSION
    elif fmt == "atom":
        assert ET.fromstring(body).findtext(f"{ATOM}updated") == "1970-01-01T00:00:00Z"
    else:
        assert ET.fromstring(body).find("channel").findtext("lastBuildDate") == "Thu, 01 Jan 1970 00:00:00 GMT"


@pytest.mark.parametrize("fmt", FORMATS)
def test_untrusted_text_is_escaped_and_invalid_xml_characters_dropped(fmt):
    body, _ = feeds.render(fmt, meta(title=NASTY), [entry(1, title="a\x00b\x1bc " + NASTY, tags=["x&y"])])
    if fmt == "json":
        document = json.loads(body)
        assert document["title"] == NASTY
        assert document["items"][0]["title"] == "a\x00b\x1bc " + NASTY  # JSON can carry them, escaped
        return
    assert b"<script>" not in body
    root = ET.fromstring(body)
    if fmt == "atom":
        assert root.findtext(f"{ATOM}title") == NASTY
        assert root.find(f"{ATOM}entry").findtext(f"{ATOM}title") == "abc " + NASTY
        assert root.find(f"{ATOM}entry/{ATOM}category").get("term") == "x&y"
    else:
        assert root.findtext("channel/title") == NASTY
        assert root.findtext("channel/item/title") == "abc " + NASTY
        assert root.findtext("channel/item/category") == "x&y"


@pytest.mark.parametrize("fmt", FORMATS)
def test_output_is_deterministic(fmt):
    entries = [entry(3), entry(2), entry(1)]
    assert feeds.render(fmt, meta(), entries) == feeds.render(fmt, meta(), [dict(e) for e in entries])


def test_unknown_format_is_refused():
    with pytest.raises(KeyError):
        feeds.render("xml", meta(), [])


def test_dates_with_a_zone_are_converted_to_utc():
    berlin = timezone(timedelta(hours=1))
    assert feeds.rfc3339(datetime(2026, 3, 2, 11, 0, tzinfo=berlin)) == "2026-03-02T10:00:00Z"
    assert feeds.rfc822(datetime(2026, 3, 2, 11, 0, 5, 999, tzinfo=berlin)) == "Mon, 02 Mar 2026 10:00:05 GMT"


def test_bookmark_content_escapes_owner_text_and_keeps_stored_html():
    html = feeds.bookmark_content("https://e.example/?a=1&b=2", NASTY, "line one\nline <two>",
                                  "https://e.example/?a=1&b=2#:~:text=line", "<p>Stored <em>html</em></p>")
    assert '<a href="https://e.example/?a=1&amp;b=2">&lt;script&gt;&amp;&quot;</a>' in html
    assert '<blockquote cite="https://e.example/?a=1&amp;b=2#:~:text=line">' in html
    assert "<p>line one<br>line &lt;two&gt;</p>" in html
    assert '<a href="https://e.example/?a=1&amp;b=2#:~:text=line">Read the quote in context</a>' in html
    assert html.endswith("<p>Stored <em>html</em></p>")
    plain = feeds.bookmark_content("https://e.example/", "", "", "https://e.example/", "")
    assert plain == '<p><a href="https://e.example/">https://e.example/</a></p>'


# ---------------------------------------------------------------- through the app


def add_weeknote(engine, week: str, title: str, body: str, status: str = "published",  # noqa: ANN001
                 visibility: str = "public", published: datetime | None = None) -> int:
    """Straight into the table, the way weeknotes.save() would store it."""
    at = published or datetime(2026, 3, 8, 12, 0, 0)
    with engine.begin() as conn:
        return conn.execute(insert(Weeknote).values(
            week=week, title=title, body=body, body_html=markup.render_markdown(body), status=status,
            visibility=visibility, created_at=at - timedelta(days=1), updated_at=at + timedelta(hours=2),
            published_at=at if status == "published" else None,
        ).returning(Weeknote.id)).scalar_one()


HIDDEN_TITLES = ("Unlisted link", "Followers link", "Private link", "Draft note", "Unlisted note",
                 "Private note")


@pytest.fixture
def content(engine, make_bookmark) -> dict[str, Any]:  # noqa: ANN001
    """Two public bookmarks, one public weeknote, and one of every kind of thing feeds must leave out."""
    ids = {
        "first": make_bookmark("https://one.example/page?x=1&y=2", "First link", tags="web python",
                               created_at=datetime(2026, 3, 2, 10), annotation="Worth *reading*.",
                               quote="the exact words"),
        "nasty": make_bookmark("https://two.example/", NASTY, tags="web", created_at=datetime(2026, 3, 3, 10)),
    }
    make_bookmark("https://u.example/", "Unlisted link", tags="web", visibility="unlisted",
                  created_at=datetime(2026, 3, 4, 10))
    make_bookmark("https://f.example/", "Followers link", tags="web", visibility="followers",
                  created_at=datetime(2026, 3, 5, 10))
    make_bookmark("https://p.example/", "Private link", tags="web secret", visibility="private",
                  created_at=datetime(2026, 3, 6, 10))
    add_weeknote(engine, "2026-W10", "Week ten", "A *good* week.")
    add_weeknote(engine, "2026-W11", "Draft note", "Not yet.", status="draft")
    add_weeknote(engine, "2026-W09", "Unlisted note", "Hidden.", visibility="unlisted",
                 published=datetime(2026, 3, 1, 9, 0))
    add_weeknote(engine, "2026-W08", "Private note", "Hidden.", visibility="private",
                 published=datetime(2026, 2, 22, 9, 0))
    with engine.connect() as conn:
        ids["rows"] = {r.id: r for r in conn.execute(select(Bookmark))}
        ids["weeknote"] = conn.execute(select(Weeknote).where(Weeknote.week == "2026-W10")).one()
    return ids


def read_feed(response) -> dict[str, Any]:  # noqa: ANN001
    """Any format to one shape: feed title/self/alternate/updated/language and normalised entries."""
    if response.content_type.startswith("application/feed+json"):
        return read_json_feed(json.loads(response.data))
    parsed = feedparser.parse(response.data)
    assert not parsed.bozo, parsed.get("bozo_exception")
    links = {link["rel"]: link["href"] for link in parsed.feed.links}
    entries = []
    for e in parsed.entries:
        related = [link["href"] for link in e.get("links", []) if link["rel"] == "related"]
        entries.append({
            "id": e.id, "url": e.link, "external_url": related[0] if related else None, "title": e.title,
            "published": _from_struct(e.published_parsed),
            "updated": _from_struct(e.updated_parsed) if "updated_parsed" in e else None,
            "tags": [t["term"] for t in e.get("tags", [])], "author": e.get("author"),
            "html": e.content[0].value if "content" in e else e.summary,
        })
    updated = parsed.feed.get("updated_parsed")
    return {"version": parsed.version, "title": parsed.feed.title, "self": links.get("self"),
            "alternate": links.get("alternate"), "language": parsed.feed.get("language"),
            "updated": _from_struct(updated) if updated else None, "entries": entries}


def read_json_feed(document: dict[str, Any]) -> dict[str, Any]:
    check_json_feed(document)
    entries = [{
        "id": item["id"], "url": item["url"], "external_url": item.get("external_url"), "title": item["title"],
        "published": _from_rfc3339(item["date_published"]), "updated": _from_rfc3339(item["date_modified"]),
        "tags": item.get("tags", []), "author": item["authors"][0]["name"], "html": item["content_html"],
    } for item in document["items"]]
    return {"version": "json11", "title": document["title"], "self": document["feed_url"],
            "alternate": document["home_page_url"], "language": document["language"], "updated": None,
            "entries": entries}


JSON_FEED_KEYS = {"version", "title", "home_page_url", "feed_url", "description", "user_comment", "next_url",
                  "icon", "favicon", "authors", "language", "expired", "hubs", "items"}
JSON_ITEM_KEYS = {"id", "url", "external_url", "title", "content_html", "content_text", "summary", "image",
                  "banner_image", "date_published", "date_modified", "authors", "tags", "language", "attachments"}


def check_json_feed(document: dict[str, Any]) -> None:
    """JSON Feed 1.1: required keys, known keys only, the right types, RFC 3339 dates."""
    assert document["version"] == "https://jsonfeed.org/version/1.1"
    assert isinstance(document["title"], str) and document["title"]
    assert isinstance(document["items"], list)
    assert set(document) <= JSON_FEED_KEYS, set(document) - JSON_FEED_KEYS
    for author in document.get("authors", []):
        assert isinstance(author["name"], str) and author["name"]
    for item in document["items"]:
        assert set(item) <= JSON_ITEM_KEYS, set(item) - JSON_ITEM_KEYS
        assert isinstance(item["id"], str) and item["id"]
        assert isinstance(item.get("content_html"), str) or isinstance(item.get("content_text"), str)
        assert all(isinstance(t, str) for t in item.get("tags", []))
        for key in ("date_published", "date_modified"):
            if key in item:
                assert RFC3339.match(item[key]), item[key]


def _from_struct(value) -> datetime:  # noqa: ANN001
    return datetime.fromtimestamp(calendar.timegm(value), timezone.utc).replace(tzinfo=None)


def _from_rfc3339(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc).replace(tzinfo=None)


def expected_entries(content: dict[str, Any], family: str) -> list[dict[str, Any]]:
    rows = content["rows"]
    first, nasty = rows[content["first"]], rows[content["nasty"]]

    def bookmark(row) -> dict[str, Any]:  # noqa: ANN001
        return {"id": f"{BASE_URL}/bookmarks/{row.id}", "url": f"{BASE_URL}/bookmarks/{row.id}",
                "external_url": row.url, "title": row.title, "published": row.created_at.replace(microsecond=0),
                "updated": row.updated_at.replace(microsecond=0), "tags": row.tags_text.split()}

    note = content["weeknote"]
    weeknote = {"id": f"{BASE_URL}/weeknotes/2026-W10", "url": f"{BASE_URL}/weeknotes/2026-W10",
                "external_url": None, "title": "Week ten", "published": note.published_at,
                "updated": note.updated_at, "tags": []}
    return {"all": [weeknote, bookmark(nasty), bookmark(first)], "links": [bookmark(nasty), bookmark(first)],
            "weeknotes": [weeknote], "tags/web": [bookmark(nasty), bookmark(first)],
            "tags/python": [bookmark(first)]}[family]


FAMILY_PAGES = {"all": "/", "links": "/", "weeknotes": "/weeknotes/", "tags/web": "/tags/web",
                "tags/python": "/tags/python"}
FAMILY_TITLES = {"all": "My links", "links": "My links: links", "weeknotes": "My links: weeknotes",
                 "tags/web": "My links: #web", "tags/python": "My links: #python"}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("family", ["all", "links", "weeknotes", "tags/web", "tags/python"])
def test_feed_lists_public_items_with_ids_links_dates_tags_and_content(client, content, family, fmt):
    path = f"/feeds/{family}.{fmt}"
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == CONTENT_TYPES[fmt]
    assert response.headers["Cache-Control"] == "public, max-age=300"
    feed = read_feed(response)
    assert feed["version"] == {"atom": "atom10", "rss": "rss20", "json": "json11"}[fmt]
    assert feed["title"] == FAMILY_TITLES[family]
    assert feed["self"] == BASE_URL + path
    assert feed["alternate"] == BASE_URL + FAMILY_PAGES[family]
    assert feed["language"] == "en"
    expected = expected_entries(content, family)
    assert [e["id"] for e in feed["entries"]] == [e["id"] for e in expected]
    newest = max(max(e["published"], e["updated"]) for e in expected)
    if fmt == "atom":
        assert feed["updated"] == newest
    for got, want in zip(feed["entries"], expected):
        assert got["url"] == want["url"]
        assert got["title"] == want["title"]
        assert got["published"] == want["published"]
        assert got["tags"] == want["tags"]
        assert got["author"] == "The Owner"
        if fmt != "rss":  # RSS has no modified date and no standard place for the bookmarked page
            assert got["updated"] == max(want["updated"], want["published"])
            assert got["external_url"] == want["external_url"]
    by_id = {e["id"]: e for e in feed["entries"]}
    if family in ("all", "links", "tags/web", "tags/python"):
        first = by_id[f"{BASE_URL}/bookmarks/{content['first']}"]["html"]
        assert '<a href="https://one.example/page?x=1&amp;y=2">First link</a>' in first
        assert "<blockquote" in first and "the exact words" in first
        assert 'href="https://one.example/page?x=1&amp;y=2#:~:text=the%20exact%20words"' in first
        assert "Worth <em>reading</em>." in first
    if family in ("all", "weeknotes"):
        assert "A <em>good</em> week." in by_id[f"{BASE_URL}/weeknotes/2026-W10"]["html"]
    body = response.get_data(as_text=True)
    for hidden in HIDDEN_TITLES:
        assert hidden not in body


@pytest.mark.parametrize("fmt", FORMATS)
def test_feeds_stay_public_when_the_owner_reads_them(owner, content, fmt):
    for family in ("all", "links", "weeknotes", "tags/web"):
        response = owner.get(f"/feeds/{family}.{fmt}")
        assert response.status_code == 200
        ids = [e["id"] for e in read_feed(response)["entries"]]
        assert ids == [e["id"] for e in expected_entries(content, family)]
        for hidden in HIDDEN_TITLES:
            assert hidden not in response.get_data(as_text=True)
        # The owner's browser sends a session cookie, so no shared cache may keep this copy.
        assert response.headers["Cache-Control"] == "private, max-age=300"


@pytest.mark.parametrize("fmt", FORMATS)
def test_markup_in_a_title_is_escaped_and_the_feed_still_parses(client, content, fmt):
    response = client.get(f"/feeds/links.{fmt}")
    feed = read_feed(response)
    assert feed["entries"][0]["title"] == NASTY
    assert "<script>" not in feed["entries"][0]["html"]
    assert "&lt;script&gt;&amp;&quot;" in feed["entries"][0]["html"]
    if fmt != "json":
        assert b"<script>" not in response.data
        assert b"&lt;script&gt;&amp;" in response.data


def test_empty_site_serves_empty_feeds(client):
    for fmt in FORMATS:
        response = client.get(f"/feeds/all.{fmt}")
        assert response.status_code == 200
        assert read_feed(response)["entries"] == []
    assert read_feed(client.get("/feeds/all.atom"))["updated"] == datetime(1970, 1, 1)


def test_author_is_the_owner_username_without_a_display_name(client, engine, content):
    with engine.begin() as conn:
        conn.execute(update(Owner).values(display_name=""))
    assert {e["author"] for e in read_feed(client.get("/feeds/all.json"))["entries"]} == {"owner"}


def test_weeknote_without_a_title_is_named_after_its_week(client, engine):
    add_weeknote(engine, "2026-W12", "", "Untitled week.", published=datetime(2026, 3, 20, 8, 0))
    entries = read_feed(client.get("/feeds/weeknotes.atom"))["entries"]
    assert entries[0]["title"].startswith("Week 12 · ") and entries[0]["title"].endswith(" 2026")


def test_feed_size_setting_caps_the_entries(app, client, make_bookmark):
    for n in range(7):
        make_bookmark(f"https://n{n}.example/", f"Link {n}", tags="bulk", created_at=datetime(2026, 3, n + 1, 10))
    app.extensions["linkblog"].config.values[("site", "feed_size")] = 5
    for path in ("/feeds/links.json", "/feeds/tags/bulk.rss", "/feeds/all.atom"):
        titles = [e["title"] for e in read_feed(client.get(path))["entries"]]
        assert titles == ["Link 6", "Link 5", "Link 4", "Link 3", "Link 2"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_if_none_match_gets_304_until_the_feed_changes(client, make_bookmark, content, fmt):
    path = f"/feeds/all.{fmt}"
    first = client.get(path)
    etag = first.headers["ETag"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag)
    again = client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.data == b""
    assert again.headers["ETag"] == etag
    assert again.headers["Cache-Control"] == "public, max-age=300"
    assert client.get(path, headers={"If-None-Match": f'"other", W/{etag}'}).status_code == 304
    assert client.get(path, headers={"If-None-Match": '"other"'}).status_code == 200
    make_bookmark("https://new.example/", "Newer link", tags="web", created_at=datetime(2026, 3, 20, 10))
    changed = client.get(path, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag
    assert "Newer link" in changed.get_data(as_text=True)


def test_tag_feeds_for_unknown_invalid_or_hidden_tags_are_404(client, content):
    for path in ("/feeds/tags/nothing.atom", "/feeds/tags/secret.rss", "/feeds/tags/bad%20tag.json",
                 "/feeds/tags/no%3Ctag%3E.atom", "/feeds/tags/web.xml", "/feeds/everything.atom",
                 "/feeds/all.html"):
        response = client.get(path)
        assert response.status_code == 404, path


def test_tag_feed_names_are_normalised_and_may_contain_dots(client, make_bookmark):
    make_bookmark("https://node.example/", "Node", tags="node.js", created_at=datetime(2026, 3, 2, 10))
    feed = read_feed(client.get("/feeds/tags/node.js.atom"))
    assert feed["self"] == f"{BASE_URL}/feeds/tags/node.js.atom"
    assert [e["title"] for e in feed["entries"]] == ["Node"]
    upper = read_feed(client.get("/feeds/tags/Node.JS.json"))
    assert upper["self"] == f"{BASE_URL}/feeds/tags/node.js.json"


def count_statements(engine, client, path: str) -> int:  # noqa: ANN001
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        assert client.get(path).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return len(statements)


@pytest.mark.parametrize("path", ["/feeds/all.atom", "/feeds/links.rss", "/feeds/weeknotes.json",
                                  "/feeds/tags/web.atom"])
def test_a_feed_takes_a_fixed_small_number_of_queries(client, engine, make_bookmark, path):
    make_bookmark("https://a.example/", "A", tags="web", created_at=datetime(2026, 3, 1, 10))
    add_weeknote(engine, "2026-W01", "One", "Body.")
    client.get(path)  # warm the pool so connection set-up is not counted
    few = count_statements(engine, client, path)
    for n in range(12):
        make_bookmark(f"https://many{n}.example/", f"Many {n}", tags="web", created_at=datetime(2026, 3, n + 2, 10),
                      annotation="*x*", quote="a quote")
        add_weeknote(engine, f"2025-W{n + 10}", f"Note {n}", "Body.", published=datetime(2025, 3, n + 1))
    many = count_statements(engine, client, path)
    assert few == many
    assert many <= 4  # the items, the owner's profile, the settings saved on /admin/settings (and tags)


def test_feeds_page_lists_every_feed_and_public_tags(client, content):
    response = client.get("/feeds/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    for family in ("all", "links", "weeknotes"):
        for fmt in FORMATS:
            assert f'href="/feeds/{family}.{fmt}"' in page
            assert f"{BASE_URL}/feeds/{family}.{fmt}" in page
    for fmt in FORMATS:
        assert f'href="/feeds/tags/web.{fmt}"' in page
        assert f'href="/feeds/tags/python.{fmt}"' in page
    assert "secret" not in page
    for link in re.findall(r'href="(/feeds/[^"]+)"', page):
        assert client.get(link).status_code == 200, link


def test_feed_dates_match_the_pages(client, content):
    """The same instant on the permalink page (dt-published) and in the feed."""
    first = content["rows"][content["first"]]
    page = client.get(f"/bookmarks/{first.id}").get_data(as_text=True)
    entry_ = next(e for e in read_feed(client.get("/feeds/links.atom"))["entries"]
                  if e["id"].endswith(f"/bookmarks/{first.id}"))
    assert f'datetime="{iso(entry_["published"])}"' in page
