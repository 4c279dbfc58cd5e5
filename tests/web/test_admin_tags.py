"""The owner's tag page on both databases: counts over every visibility, rename, merge, refusals."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from linkblog.models import Bookmark, BookmarkTag, Tag

from tests.support.app import csrf_of

B = Bookmark.__table__
T = Tag.__table__
BT = BookmarkTag.__table__


def _state(engine) -> dict:
    """Everything a rename may touch: tag rows, join rows (with ``listed``), and each bookmark's tags_text."""
    with engine.connect() as conn:
        tags = sorted(conn.execute(select(T.c.name)).scalars())
        joins = sorted(conn.execute(select(B.c.url, T.c.name, BT.c.listed).select_from(
            BT.join(B, B.c.id == BT.c.bookmark_id).join(T, T.c.id == BT.c.tag_id))).all())
        texts = dict(conn.execute(select(B.c.url, B.c.tags_text)).all())
    return {"tags": tags, "joins": joins, "texts": texts}


@pytest.fixture
def tagged(engine, make_bookmark):
    make_bookmark("https://one.example/", tags="python web")
    make_bookmark("https://two.example/", tags="py python notes")
    make_bookmark("https://three.example/", tags="py", visibility="private")
    return engine


def _rename(owner, old: str, new: str):
    return owner.post("/admin/tags/rename", data={"old": old, "new": new, "csrf_token": owner.csrf})


def test_tag_list_counts_every_visibility(owner, tagged):
    page = owner.get("/admin/tags").get_data(as_text=True)
    counts = dict(re.findall(r'<td><a href="/tags/[^"]+">#([^<]+)</a></td><td class="number">(\d+)</td>', page))
    assert counts == {"notes": "1", "py": "2", "python": "2", "web": "1"}
    assert '<label for="old">' in page and '<label for="new">' in page


def test_rename_link_prefills_the_form(owner, tagged):
    page = owner.get("/admin/tags?old=py").get_data(as_text=True)
    assert re.search(r'<input id="old"[^>]*value="py"', page)


def test_rename_to_a_new_name(owner, client, tagged):
    response = _rename(owner, "web", "Internet")
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/tags"
    state = _state(tagged)
    assert state["tags"] == ["internet", "notes", "py", "python"]
    assert ("https://one.example/", "internet", True) in state["joins"]
    assert state["texts"]["https://one.example/"] == "python internet"
    assert "https://one.example/" in client.get("/tags/internet").get_data(as_text=True)
    assert client.get("/tags/web").status_code == 404
    assert "Renamed #web to #internet (1 bookmark)." in owner.get("/admin/tags").get_data(as_text=True)


def test_rename_onto_an_existing_tag_merges(owner, client, tagged):
    response = _rename(owner, "#py", "python")
    assert response.status_code == 302
    state = _state(tagged)
    assert state["tags"] == ["notes", "python", "web"]
    assert state["joins"] == [
        ("https://one.example/", "python", True),
        ("https://one.example/", "web", True),
        ("https://three.example/", "python", False),  # still unlisted: the bookmark is private
        ("https://two.example/", "notes", True),
        ("https://two.example/", "python", True),
    ]
    assert state["texts"] == {"https://one.example/": "python web", "https://two.example/": "python notes",
                              "https://three.example/": "python"}
    assert "Merged #py into #python (2 bookmarks)." in owner.get("/admin/tags").get_data(as_text=True)
    public = client.get("/tags/python").get_data(as_text=True)
    assert "https://two.example/" in public and "https://three.example/" not in public
    assert "https://three.example/" in owner.get("/tags/python").get_data(as_text=True)


def test_rename_to_the_same_name_changes_nothing(owner, tagged):
    before = _state(tagged)
    response = _rename(owner, "python", " Python ")
    assert response.status_code == 302
    assert _state(tagged) == before
    assert "nothing changed" in owner.get("/admin/tags").get_data(as_text=True)


@pytest.mark.parametrize("old, new, field, message", [
    ("web", "two words", "new", "contains spaces"),
    ("web", "bell\x07", "new", "control characters"),
    ("web", "x" * 65, "new", "longer than 64"),
    ("web", "", "new", "cannot be empty"),
    ("web", "semi;colon", "new", "may only use"),
    ("", "web2", "old", "cannot be empty"),
    ("missing", "web2", "old", "There is no tag called"),
])
def test_invalid_rename_is_reshown_and_changes_nothing(owner, tagged, old, new, field, message):
    before = _state(tagged)
    response = _rename(owner, old, new)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in page
    assert 'role="alert"' in page
    assert re.search(rf'<input id="{field}"[^>]*aria-invalid="true"', page)
    if new and "\x07" not in new:
        assert f'value="{new}"' in page  # what was typed is still there
    assert _state(tagged) == before


def test_rename_without_csrf_token_changes_nothing(owner, tagged):
    before = _state(tagged)
    response = owner.post("/admin/tags/rename", data={"old": "web", "new": "internet"})
    assert response.status_code == 400
    assert _state(tagged) == before


def test_rename_by_a_visitor_changes_nothing(client, tagged):
    before = _state(tagged)
    response = client.post("/admin/tags/rename", data={"old": "web", "new": "internet",
                                                       "csrf_token": csrf_of(client)})
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")
    assert _state(tagged) == before
