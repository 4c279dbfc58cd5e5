"""Deleting asks first: the confirmation page (plain HTML, no JavaScript) says what goes and who is told, and only
its CSRF-protected POST deletes, for bookmarks and weeknotes alike."""
from __future__ import annotations

import re
from datetime import datetime
from html import unescape

from sqlalchemy import func, insert, select

from linkblog.models import BOOKMARKS, FOLLOWERS, OUTBOX_ACTIVITIES, REMOTE_ACTORS, WEEKNOTES

T0 = datetime(2026, 3, 2, 9, 0, 0)
WEEK = "2026-W10"


def add_followers(engine, n: int) -> None:  # noqa: ANN001
    with engine.begin() as conn:
        for i in range(n):
            uri = f"https://remote{i}.example/users/f"
            actor = conn.execute(insert(REMOTE_ACTORS).values(
                uri=uri, inbox=f"{uri}/inbox", shared_inbox=f"https://remote{i}.example/inbox", handle=f"f@remote{i}.example",
                created_at=T0, fetched_at=T0).returning(REMOTE_ACTORS.c.id)).scalar_one()
            conn.execute(insert(FOLLOWERS).values(actor_id=actor, follow_uri=f"{uri}/follows/1", state="accepted",
                                                  created_at=T0))


def count(engine, table, *where) -> int:  # noqa: ANN001
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()


def text_of(response) -> str:  # noqa: ANN001
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).split())


def test_the_bookmark_page_links_to_a_confirmation_and_nothing_is_deleted_by_a_get(owner, engine, make_bookmark):
    add_followers(engine, 2)
    bookmark_id = make_bookmark("https://example.org/kept", "Kept page")
    page = owner.get(f"/bookmarks/{bookmark_id}").get_data(as_text=True)
    assert f'href="/bookmarks/{bookmark_id}/delete"' in page
    assert f'action="/bookmarks/{bookmark_id}/delete"' not in page  # no one-click delete button any more

    confirm = owner.get(f"/bookmarks/{bookmark_id}/delete")
    assert confirm.status_code == 200
    words = text_of(confirm)
    assert "Delete the bookmark “Kept page”?" in words
    assert "Nothing was deleted yet" in words
    assert "followers are told with a Delete (sent to 2 followers)" in words
    form = confirm.get_data(as_text=True)
    assert f'<form method="post" action="/bookmarks/{bookmark_id}/delete"' in form
    assert 'name="csrf_token"' in form and f'href="/bookmarks/{bookmark_id}">Cancel</a>' in form
    assert "<script" not in form.split("<main", 1)[1]  # works without JavaScript
    assert count(engine, BOOKMARKS) == 1


def test_confirming_deletes_and_tells_followers_but_only_with_the_csrf_token(owner, engine, make_bookmark):
    add_followers(engine, 1)
    bookmark_id = make_bookmark("https://example.org/gone", "Gone page")
    assert owner.post(f"/bookmarks/{bookmark_id}/delete", data={}).status_code in (400, 403)
    assert count(engine, BOOKMARKS) == 1
    response = owner.post(f"/bookmarks/{bookmark_id}/delete", data={"csrf_token": owner.csrf})
    assert response.status_code == 302
    assert count(engine, BOOKMARKS) == 0
    assert count(engine, OUTBOX_ACTIVITIES, OUTBOX_ACTIVITIES.c.type == "Delete") == 1
    assert owner.get(f"/bookmarks/{bookmark_id}/delete").status_code == 404


def test_a_private_bookmark_says_no_one_is_told(owner, engine, make_bookmark):
    add_followers(engine, 3)
    bookmark_id = make_bookmark("https://example.org/mine", "Mine", visibility="private")
    words = text_of(owner.get(f"/bookmarks/{bookmark_id}/delete"))
    assert "never sent to followers" in words and "told with a Delete" not in words


def test_readers_get_no_confirmation_page(client, make_bookmark):
    bookmark_id = make_bookmark("https://example.org/p", "P")
    response = client.get(f"/bookmarks/{bookmark_id}/delete")
    assert response.status_code in (302, 401, 403, 404)
    assert "Delete the bookmark" not in response.get_data(as_text=True)


def _weeknote(engine, status: str = "published") -> None:  # noqa: ANN001
    with engine.begin() as conn:
        conn.execute(insert(WEEKNOTES).values(week=WEEK, title="Week ten", body="Things.", body_html="<p>Things.</p>",
                                              status=status, visibility="public", created_at=T0, updated_at=T0,
                                              published_at=T0 if status == "published" else None))


def test_weeknote_delete_asks_first_and_says_followers_are_told(owner, engine):
    add_followers(engine, 1)
    _weeknote(engine)
    editor = owner.get(f"/admin/weeknotes/{WEEK}").get_data(as_text=True)
    assert f'href="/admin/weeknotes/{WEEK}/delete"' in editor
    assert f'action="/admin/weeknotes/{WEEK}/delete"' not in editor
    confirm = owner.get(f"/admin/weeknotes/{WEEK}/delete")
    assert confirm.status_code == 200
    words = text_of(confirm)
    assert "Delete the weeknote for Week 10" in words and "followers are told with a Delete" in words
    assert f'<form method="post" action="/admin/weeknotes/{WEEK}/delete"' in confirm.get_data(as_text=True)
    assert count(engine, WEEKNOTES) == 1
    assert owner.post(f"/admin/weeknotes/{WEEK}/delete", data={"csrf_token": owner.csrf}).status_code == 302
    assert count(engine, WEEKNOTES) == 0
    assert count(engine, OUTBOX_ACTIVITIES, OUTBOX_ACTIVITIES.c.type == "Delete") == 1


def test_a_draft_weeknote_says_no_one_received_it(owner, engine):
    add_followers(engine, 1)
    _weeknote(engine, status="draft")
    words = text_of(owner.get(f"/admin/weeknotes/{WEEK}/delete"))
    assert "It is a draft" in words and "told with a Delete" not in words
