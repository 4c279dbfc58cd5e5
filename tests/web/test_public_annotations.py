"""Annotations in lists and pages: long ones cut with a link to read the rest, their headings below the item
titles, Markdown images shown from https (the CSP allows them) or left as their alt text, and long fields that the
server refuses with the numbers instead of cutting them."""
from __future__ import annotations

import re

from sqlalchemy import func, select

from linkblog.models import BOOKMARKS

LONG = " ".join(f"word{i}" for i in range(400)) + " THE-END"


def test_long_annotations_are_cut_in_lists_with_a_read_more_link(client, make_bookmark):
    long_id = make_bookmark("https://long.example/", "Long", annotation=LONG)
    short_id = make_bookmark("https://short.example/", "Short", annotation="Just a line.")
    home = client.get("/").get_data(as_text=True)
    assert "THE-END" not in home and "word10 " in home
    assert f'<a href="/bookmarks/{long_id}" aria-label="Read more of Long">Read more</a>' in home
    assert "Just a line." in home and f'href="/bookmarks/{short_id}" aria-label' not in home
    assert "THE-END" in client.get(f"/bookmarks/{long_id}").get_data(as_text=True)  # the permalink has it all


def test_headings_in_annotations_never_outrank_item_titles(client, make_bookmark):
    make_bookmark("https://h.example/", "Titled", annotation="# One\n\n## Two\n\n### Three\n\ntext")
    home = client.get("/").get_data(as_text=True)
    entry = home.split('href="https://h.example/"', 1)[1]
    assert re.search(r"<h3>One</h3>\s*<h3>Two</h3>\s*<h4>Three</h4>", entry), entry[:400]
    assert "<h1>One" not in home and "<h2>One" not in home and "<h2>Two" not in home


def test_images_show_from_https_or_leave_their_alt_text(client, make_bookmark):
    bookmark_id = make_bookmark("https://img.example/", "Pictures", annotation=(
        "![A cat](https://pics.example/cat.png)\n\n![A dog](http://pics.example/dog.png)\n\n"
        "![A trick](javascript:alert(1)) ![](/local.png)"))
    response = client.get(f"/bookmarks/{bookmark_id}")
    page = response.get_data(as_text=True).split('<div class="e-content annotation">', 1)[1].split("</div>", 1)[0]
    assert '<img src="https://pics.example/cat.png" alt="A cat"' in page
    assert "http://pics.example/dog.png" not in page and "<em>[A dog]</em>" in page
    assert re.findall(r'<img src="([^"]*)"', page) == ["https://pics.example/cat.png"]
    assert "img-src 'self' data: https:;" in response.headers["Content-Security-Policy"]


def test_long_fields_are_refused_with_the_numbers_never_cut(owner, engine):
    response = owner.post("/save", data={"url": "https://example.org/long", "title": "T" * 501,
                                         "annotation": "a" * 20_001, "quote": "", "tags": "",
                                         "visibility": "public", "csrf_token": owner.csrf})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "The title is 501 characters long; the limit is 500." in page
    assert "The annotation is 20,001 characters long; the limit is 20,000." in page
    assert "a" * 20_001 in page  # kept in the form to shorten, not cut
    # The browser is not told to cut either: a counter (form.js) replaces maxlength.
    assert not re.search(r"\smaxlength=", page) and 'data-maxlength="20000"' in page and "form.js" in page
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(BOOKMARKS)).scalar_one() == 0


def test_the_weeknote_editor_counts_instead_of_cutting(owner):
    owner.post("/admin/weeknotes", data={"week": "2026-W47", "csrf_token": owner.csrf})
    page = owner.get("/admin/weeknotes/2026-W47").get_data(as_text=True)
    assert 'data-maxlength="100000"' in page and not re.search(r"\smaxlength=", page)
    assert "form.js" in page
