"""Everyday owner flows: /feeds/ stays short with thousands of tags, the edit page has Cancel, the to-read list has
"Mark read"."""
from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import insert, select

from linkblog.models import BOOKMARK_TAGS, BOOKMARKS, OUTBOX_ACTIVITIES, TAGS


def test_feeds_page_lists_the_top_tags_then_links_to_all(client, engine, make_bookmark):
    bookmark_id = make_bookmark("https://many-tags.example/", "Tagged")
    now = datetime(2026, 11, 18)
    with engine.begin() as conn:
        ids = [conn.execute(insert(TAGS).values(name=f"tag{i:04d}").returning(TAGS.c.id)).scalar_one()
               for i in range(2000)]
        conn.execute(insert(BOOKMARK_TAGS), [{"bookmark_id": bookmark_id, "tag_id": t, "listed": True,
                                              "created_at": now} for t in ids])
    for i in range(3):
        make_bookmark(f"https://p{i}.example/", f"P{i}", tags="popular")
    page = client.get("/feeds/").get_data(as_text=True)
    tag_feeds = re.findall(r'href="/feeds/tags/([^".]+)\.atom"', page)
    assert len(tag_feeds) == 20 and tag_feeds[0] == "popular"  # most used first
    assert '<a href="/tags/">See all tags</a>' in page
    assert len(page) < 20_000


def test_a_few_tags_need_no_see_all_link(client, make_bookmark):
    make_bookmark("https://few.example/", "Few", tags="one two")
    page = client.get("/feeds/").get_data(as_text=True)
    assert set(re.findall(r'href="/feeds/tags/([^".]+)\.atom"', page)) == {"one", "two"}
    assert "See all tags" not in page


def test_the_edit_page_has_cancel_back_to_the_bookmark(owner, make_bookmark):
    bookmark_id = make_bookmark("https://edit.example/", "Edit me")
    page = owner.get(f"/bookmarks/{bookmark_id}/edit").get_data(as_text=True)
    assert f'<a class="button secondary" href="/bookmarks/{bookmark_id}">Cancel</a>' in page
    assert ">Cancel</a>" not in owner.get("/save").get_data(as_text=True)  # a new link has nothing to go back to


def test_mark_read_clears_the_flag_keeps_the_bookmark_and_tells_no_one(owner, client, engine, make_bookmark):
    bookmark_id = make_bookmark("https://later.example/", "Read later", toread=True)
    other = make_bookmark("https://later2.example/", "Also later", toread=True)
    listing = owner.get("/admin/toread").get_data(as_text=True)
    assert f'action="/bookmarks/{bookmark_id}/read"' in listing and ">Mark read</button>" in listing
    with engine.connect() as conn:
        queued = len(conn.execute(select(OUTBOX_ACTIVITIES.c.id)).all())
    assert owner.post(f"/bookmarks/{bookmark_id}/read", data={}).status_code in (400, 403)  # CSRF
    response = owner.post(f"/bookmarks/{bookmark_id}/read", data={"csrf_token": owner.csrf}, follow_redirects=True)
    assert response.status_code == 200 and "Marked read." in response.get_data(as_text=True)
    assert f'action="/bookmarks/{bookmark_id}/read"' not in response.get_data(as_text=True)
    assert f'action="/bookmarks/{other}/read"' in response.get_data(as_text=True)
    with engine.connect() as conn:
        rows = dict(conn.execute(select(BOOKMARKS.c.id, BOOKMARKS.c.toread)).all())
        assert rows == {bookmark_id: False, other: True}
        assert len(conn.execute(select(OUTBOX_ACTIVITIES.c.id)).all()) == queued
    assert client.post(f"/bookmarks/{other}/read", data={"csrf_token": owner.csrf}).status_code in (302, 400, 403)
    with engine.connect() as conn:
        assert conn.execute(select(BOOKMARKS.c.toread).where(BOOKMARKS.c.id == other)).scalar_one() is True
    assert owner.post("/bookmarks/999/read", data={"csrf_token": owner.csrf}).status_code == 404


def test_a_new_selection_on_a_saved_page_is_offered_and_the_choice_applies(owner, engine, make_bookmark):
    bookmark_id = make_bookmark("https://quoted.example/", "Quoted", quote="The first words.")
    page = owner.get("/save?url=https%3A%2F%2Fquoted.example%2F&quote=Other+words.").get_data(as_text=True)
    assert 'id="offered"' in page and "<blockquote><p>Other words.</p></blockquote>" in page
    assert 'name="offered_quote" value="Other words."' in page
    assert re.search(r'value="add"\s+checked', page)
    same = owner.get("/save?url=https%3A%2F%2Fquoted.example%2F&quote=The+first+words.").get_data(as_text=True)
    assert 'id="offered"' not in same  # the same selection again: nothing to offer

    def save(choice: str, offered: str) -> str:
        data = {"url": "https://quoted.example/", "title": "Quoted", "annotation": "", "tags": "",
                "visibility": "public", "quote": "The first words.", "offered_quote": offered,
                "quote_choice": choice, "csrf_token": owner.csrf}
        assert owner.post(f"/bookmarks/{bookmark_id}/edit", data=data).status_code == 302
        with engine.connect() as conn:
            return conn.execute(select(BOOKMARKS.c.quote).where(BOOKMARKS.c.id == bookmark_id)).scalar_one()

    assert save("keep", "Other words.") == "The first words."
    assert save("add", "Other words.") == "The first words.\n\nOther words."
    assert save("replace", "Other words.") == "Other words."
