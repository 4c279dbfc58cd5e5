"""Saving, editing and deleting bookmarks through the owner's form; what readers then see."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, insert, select, update

from linkblog.models import Bookmark, BookmarkTag, Tag, Weeknote


def form(owner, **fields):  # noqa: ANN001, ANN201
    data = {"url": "https://example.org/page", "title": "A page", "annotation": "", "quote": "", "tags": "",
            "visibility": "public", "csrf_token": owner.csrf}
    data.update(fields)
    return data


def count(engine, table=Bookmark) -> int:  # noqa: ANN001
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


@pytest.mark.parametrize("field, value, message", [
    ("url", "not a url", "contains spaces"),
    ("url", "https://exa mple.org/", "contains spaces"),
    ("url", "https:///path-only", "no valid host"),
    ("url", "javascript:alert(1)", "Only http:// and https:// addresses"),
    ("url", "ftp://example.org/file", "Only http:// and https:// addresses"),
    ("url", "https://" + "a" * 2100 + ".org/", "longer than 2048"),
    ("url", "", "Enter the address"),
    ("title", "t" * 501, "the limit is 500"),
    ("annotation", "a" * 20_001, "the limit is 20,000"),
    ("quote", "q\x00uote", "control characters"),
    ("tags", "ok bad\x07tag", "control characters"),
    ("tags", "a/b", "may only use letters"),
    ("tags", "x" * 65, "longer than 64"),
    ("visibility", "everyone", "Visibility must be one of"),
])
def test_bad_input_is_reshown_with_the_error_and_saves_nothing(owner, engine, field, value, message):
    data = form(owner, **{"annotation": "Keep this text", field: value})
    response = owner.post("/save", data=data)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in page
    assert "Nothing was saved" in page
    if field != "annotation":
        assert "Keep this text" in page  # what the owner typed is not lost
    assert count(engine) == 0 and count(engine, Tag) == 0


def test_same_url_is_not_saved_twice(owner, engine):
    assert owner.post("/save", data=form(owner, url="https://Example.org/page?utm_medium=x#y")).status_code == 302
    again = owner.post("/save", data=form(owner, url="https://example.org:443/page"))
    assert again.status_code == 409
    assert "already saved" in again.get_data(as_text=True)
    assert count(engine) == 1
    with engine.connect() as conn:
        bookmark_id = conn.execute(select(Bookmark.id)).scalar_one()
    opened = owner.get("/save?url=https://EXAMPLE.org/page%3F&title=Other")
    page = opened.get_data(as_text=True)
    assert "You saved this page on" in page
    assert f'action="/bookmarks/{bookmark_id}/edit"' in page


def test_edit_changes_tags_and_updated_time(owner, engine):
    owner.post("/save", data=form(owner, tags="one two"))
    with engine.connect() as conn:
        row = conn.execute(select(Bookmark)).one()
    unchanged = owner.post(f"/bookmarks/{row.id}/edit", data=form(owner, tags="one two"))
    assert unchanged.status_code == 302
    with engine.connect() as conn:
        assert conn.execute(select(Bookmark.updated_at)).scalar_one() == row.updated_at
    changed = owner.post(f"/bookmarks/{row.id}/edit", data=form(owner, tags="two three", title="New title"))
    assert changed.status_code == 302
    with engine.connect() as conn:
        after = conn.execute(select(Bookmark)).one()
        names = set(conn.execute(select(Tag.name).join(BookmarkTag, BookmarkTag.tag_id == Tag.id)).scalars())
        all_tags = set(conn.execute(select(Tag.name)).scalars())
    assert after.title == "New title" and after.tags_text == "two three"
    assert after.updated_at > row.updated_at and after.created_at == row.created_at
    assert names == {"two", "three"}
    assert all_tags == {"two", "three"}  # "one" is no longer used by anything


def test_address_without_scheme_gets_https(owner, engine):
    assert owner.post("/save", data=form(owner, url="Example.org/docs")).status_code == 302
    with engine.connect() as conn:
        assert conn.execute(select(Bookmark.url)).scalar_one() == "https://example.org/docs"


def test_edit_onto_another_saved_url_is_refused(owner, engine):
    owner.post("/save", data=form(owner, url="https://a.example/"))
    owner.post("/save", data=form(owner, url="https://b.example/"))
    with engine.connect() as conn:
        first = conn.execute(select(Bookmark.id).where(Bookmark.url == "https://a.example/")).scalar_one()
    response = owner.post(f"/bookmarks/{first}/edit", data=form(owner, url="https://b.example/"))
    assert response.status_code == 409
    with engine.connect() as conn:
        assert conn.execute(select(Bookmark.url).where(Bookmark.id == first)).scalar_one() == "https://a.example/"


def test_delete_removes_bookmark_and_unused_tags(owner, client, engine):
    owner.post("/save", data=form(owner, tags="gone"))
    with engine.connect() as conn:
        bookmark_id = conn.execute(select(Bookmark.id)).scalar_one()
    assert owner.post(f"/bookmarks/{bookmark_id}/delete", data={"csrf_token": owner.csrf}).status_code == 302
    assert count(engine) == 0 and count(engine, Tag) == 0 and count(engine, BookmarkTag) == 0
    assert client.get(f"/bookmarks/{bookmark_id}").status_code == 404
    assert owner.post(f"/bookmarks/{bookmark_id}/delete", data={"csrf_token": owner.csrf}).status_code == 404


def test_owner_markup_cannot_inject_script(owner, client, engine):
    owner.post("/save", data=form(owner, title="<script>alert('t')</script>",
                                  annotation="<img src=x onerror=alert(1)> [click](javascript:alert(2)) <b>b</b>",
                                  quote="</blockquote><script>alert(3)</script>"))
    with engine.connect() as conn:
        bookmark_id = conn.execute(select(Bookmark.id)).scalar_one()
    for page in (client.get("/").get_data(as_text=True), client.get(f"/bookmarks/{bookmark_id}").get_data(as_text=True)):
        assert "<script>alert" not in page
        assert "onerror=alert" not in page.replace("&lt;img src=x onerror=alert(1)&gt;", "")
        assert 'href="javascript:' not in page
        assert "&lt;script&gt;alert(&#39;t&#39;)&lt;/script&gt;" in page


@pytest.mark.parametrize("visibility, permalink, listed", [
    ("public", 200, True), ("unlisted", 200, False), ("followers", 404, False), ("private", 404, False)])
def test_visibility_decides_who_sees_what(owner, client, engine, visibility, permalink, listed):
    owner.post("/save", data=form(owner, title="Visible?", tags="vis", visibility=visibility))
    with engine.connect() as conn:
        bookmark_id = conn.execute(select(Bookmark.id)).scalar_one()
    assert client.get(f"/bookmarks/{bookmark_id}").status_code == permalink
    assert (b"Visible?" in client.get("/").data) is listed
    assert client.get("/tags/vis").status_code == (200 if listed else 404)
    assert (b"#vis" in client.get("/tags/").data) is listed
    assert owner.get(f"/bookmarks/{bookmark_id}").status_code == 200
    assert b"Visible?" in owner.get("/").data


def test_home_pages_through_everything_without_repeats(owner, client, engine, make_bookmark):
    start = datetime(2026, 11, 2, 12, 0)
    for i in range(12):  # pairs share a timestamp
        make_bookmark.row(f"https://example.org/{i}", title=f"Item {i:02d}",
                          created_at=start + timedelta(hours=i // 2), updated_at=start)
    with engine.begin() as conn:
        conn.execute(insert(Weeknote).values(week="2026-W45", title="Notes W45", body="", body_html="",
                                             status="published", visibility="public", created_at=start,
                                             updated_at=start, published_at=start + timedelta(hours=2)))
    seen: list[str] = []
    path = "/"
    import re
    while path:
        page = client.get(path).get_data(as_text=True)
        seen += re.findall(r">(Item \d\d|Notes W45)<", page)
        found = re.search(r'href="\?before=([^"]+)"', page)
        path = f"/?before={found.group(1)}" if found else None
    assert len(seen) == 13 and len(set(seen)) == 13
    assert seen[0] == "Item 11" and seen[-1] in ("Item 00", "Item 01")
    # the weeknote shares 14:00 with Items 04 and 05 and sorts just before them, every time
    assert seen[seen.index("Notes W45") + 1] == "Item 05"
    assert client.get("/?before=garbage").status_code == 400


def test_bookmark_page_links_to_its_weeknote_only_when_published(owner, client, engine):
    owner.post("/save", data=form(owner))
    with engine.begin() as conn:
        bookmark_id, created = conn.execute(select(Bookmark.id, Bookmark.created_at)).one()
        conn.execute(update(Bookmark).values(created_at=datetime(2026, 11, 18, 9, 0)))
    assert b"/weeknotes/2026-W47" not in client.get(f"/bookmarks/{bookmark_id}").data
    with engine.begin() as conn:
        now = datetime(2026, 11, 20)
        conn.execute(insert(Weeknote).values(week="2026-W47", title="", body="- [A page](<https://example.org/page>)",
                                             body_html="", status="published",
                                             visibility="public", created_at=now, updated_at=now, published_at=now))
    assert b'href="/weeknotes/2026-W47"' in client.get(f"/bookmarks/{bookmark_id}").data


def test_quote_links_with_a_text_fragment(owner, client, engine):
    owner.post("/save", data=form(owner, url="https://example.org/essay#intro", quote="the exact-words, here"))
    with engine.connect() as conn:
        bookmark_id = conn.execute(select(Bookmark.id)).scalar_one()
    page = client.get(f"/bookmarks/{bookmark_id}").get_data(as_text=True)
    assert 'href="https://example.org/essay#:~:text=the%20exact%2Dwords%2C%20here"' in page


def test_to_read_is_the_owners_own_reminder(owner, client, engine):
    from linkblog.models import OutboxActivity

    response = owner.post("/save", data=form(owner, url="https://later.example/", toread="1"))
    assert response.status_code == 302
    with engine.connect() as conn:
        bookmark_id, toread, updated = conn.execute(select(Bookmark.id, Bookmark.toread, Bookmark.updated_at)).one()
    assert toread is True
    page = owner.get(f"/bookmarks/{bookmark_id}").get_data(as_text=True)
    assert 'class="badge toread"' in page
    edit_page = owner.get(f"/bookmarks/{bookmark_id}/edit").get_data(as_text=True)
    assert 'name="toread" value="1" checked' in edit_page
    # a reader never sees it
    from flask.testing import FlaskClient

    stranger = FlaskClient(owner.application)
    assert "toread" not in stranger.get(f"/bookmarks/{bookmark_id}").get_data(as_text=True)
    assert "toread" not in stranger.get("/").get_data(as_text=True)
    with engine.connect() as conn:
        sent_before = conn.execute(select(func.count()).select_from(OutboxActivity)).scalar_one()
    # unticking it changes only the flag: not the edit time, and nothing is sent to followers
    response = owner.post(f"/bookmarks/{bookmark_id}/edit", data=form(owner, url="https://later.example/"))
    assert response.status_code == 302
    with engine.connect() as conn:
        assert conn.execute(select(Bookmark.toread, Bookmark.updated_at)).one() == (False, updated)
        assert conn.execute(select(func.count()).select_from(OutboxActivity)).scalar_one() == sent_before


def test_the_reading_list_page(owner, client, engine):
    for n in range(3):
        owner.post("/save", data=form(owner, url=f"https://read-{n}.example/", title=f"Read {n}",
                                      toread="1" if n != 1 else "", visibility="private" if n == 2 else "public"))
    page = owner.get("/admin/toread").get_data(as_text=True)
    assert "Read 0" in page and "Read 2" in page and "Read 1" not in page
    assert page.index("Read 2") < page.index("Read 0")  # newest first
    assert '<strong class="stat-to-read">2</strong>' in owner.get("/admin/").get_data(as_text=True)
    from flask.testing import FlaskClient

    stranger = FlaskClient(owner.application)
    assert stranger.get("/admin/toread").status_code in (302, 401, 403)
    assert owner.get("/admin/toread?before=garbage").status_code == 400
