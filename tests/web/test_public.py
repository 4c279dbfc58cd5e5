"""Pages through the Flask test client on a real database file (and PostgreSQL in CI)."""
from __future__ import annotations

import re

from sqlalchemy import select, func

from linkblog.models import Bookmark, BookmarkTag


def post_bookmark(owner, **fields):  # noqa: ANN001, ANN201
    """The owner's form, posted: these tests are about what it stores and shows."""
    data = {"url": "https://example.org/a", "title": "", "annotation": "", "quote": "", "tags": "",
            "visibility": "public", "csrf_token": owner.csrf}
    data.update(fields)
    return owner.post("/save", data=data)


def test_home_is_empty_and_carries_security_headers(client):
    response = client.get("/")
    assert response.status_code == 200
    assert b"Nothing here yet" in response.data
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_saved_bookmark_appears_on_home_and_permalink(owner, client, engine):
    response = post_bookmark(owner, url="HTTPS://Example.org:443/a?utm_source=x#top", title="An example",
                             annotation="Worth *reading*.", tags="web, python", quote="exact words")
    assert response.status_code == 302
    with engine.connect() as conn:
        row = conn.execute(select(Bookmark)).one()
        assert row.url == "https://example.org/a"
        assert row.annotation_html.strip() == "<p>Worth <em>reading</em>.</p>"
        assert conn.execute(select(func.count()).select_from(BookmarkTag)).scalar() == 2
    page = client.get(f"/bookmarks/{row.id}").get_data(as_text=True)
    assert "An example" in page and "<em>reading</em>" in page
    assert "#:~:text=exact%20words" in page
    assert 'href="/tags/python"' in page
    assert "An example" in client.get("/").get_data(as_text=True)
    assert "An example" in client.get("/tags/web").get_data(as_text=True)


def test_private_bookmark_is_hidden_from_readers(owner, client, engine):
    post_bookmark(owner, url="https://secret.example/", title="Secret thing", tags="hidden", visibility="private")
    with engine.connect() as conn:
        bookmark_id = conn.execute(select(Bookmark.id)).scalar_one()
    assert client.get(f"/bookmarks/{bookmark_id}").status_code == 404
    assert b"Secret thing" not in client.get("/").data
    assert client.get("/tags/hidden").status_code == 404
    assert b"#hidden" not in client.get("/tags/").data
    assert b"Secret thing" in owner.get(f"/bookmarks/{bookmark_id}").data


def test_each_link_carries_its_sites_mark_and_nothing_is_fetched_for_it(client, make_bookmark):
    """A placeholder per host instead of favicons: the host's first letter on a colour chosen by the host, the
    same for every link of one site, hidden from screen readers (the host name follows as text)."""
    make_bookmark("https://www.example.org/a", "First")
    make_bookmark("https://example.org/b", "Second")
    make_bookmark("https://zeta.example.net/c", "Third")
    body = client.get("/").get_data(as_text=True)
    marks = re.findall(r'<span class="host-mark hue-(\d)" aria-hidden="true">(.)</span>([^<]+)</p>', body)
    by_host = {host: (hue, letter) for hue, letter, host in marks}
    assert len(marks) == 3 and set(by_host) == {"example.org", "zeta.example.net"}
    assert by_host["example.org"][1] == "E" and by_host["zeta.example.net"][1] == "Z"
    assert all(src.startswith("/") for src in re.findall(r'src="([^"]*)"', body))   # nothing from the linked sites


def test_every_tag_is_reachable_from_the_tags_page(client, make_bookmark):
    """/feeds/ lists the top tags and links to /tags/ for the rest: /tags/ pages through all of them."""
    for b in range(5):
        make_bookmark(f"https://tags.example/{b}", f"Tagged {b}", tags=[f"t{b}x{i}" for i in range(41)] + ["common"])
    first = client.get("/tags/").get_data(as_text=True)
    names = re.findall(r'<a href="/tags/([^"?]+)" rel="tag">', first)
    assert len(names) == 200 and names[0] == "common"
    assert '<a href="/tags/?page=2" rel="next">' in first
    second = client.get("/tags/?page=2").get_data(as_text=True)
    rest = re.findall(r'<a href="/tags/([^"?]+)" rel="tag">', second)
    assert len(rest) == 6 and not set(rest) & set(names) and 'rel="next"' not in second
    assert '<a href="/tags/" rel="prev">' in second
    assert client.get("/tags/?page=0").status_code == 400 and client.get("/tags/?page=x").status_code == 400
