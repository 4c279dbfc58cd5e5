"""Link health on the web (``web/links.py``): the owner's /admin/links (owner only, CSRF, one-click and bulk
actions that change the rows they name), and what readers see of a dead link on the home page, a tag page,
a permalink and an old weeknote (the saved copy or the Wayback Machine's copy)."""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select

from linkblog import weeknotes
from linkblog.links import copies
from linkblog.models import BOOKMARKS, LINK_CHECKS, OUTBOX_ACTIVITIES, PAGE_COPIES

SAVED = datetime(2025, 3, 4, 5, 6, 7)


def checked(engine, bookmark_id: int, state: str, *, since: datetime = SAVED, **columns: Any) -> None:  # noqa: ANN001
    with engine.begin() as conn:
        conn.execute(insert(LINK_CHECKS).values(bookmark_id=bookmark_id, state=state, state_since=since,
                                                checked_at=since, next_check_at=since + timedelta(days=30),
                                                reason=columns.pop("reason", f"HTTP {state}"), **columns))


def link_row(engine, bookmark_id: int) -> Any:  # noqa: ANN001
    with engine.connect() as conn:
        return conn.execute(select(LINK_CHECKS).where(LINK_CHECKS.c.bookmark_id == bookmark_id)).first()


def test_the_page_is_the_owners_alone(client, owner, make_bookmark, engine) -> None:  # noqa: ANN001
    gone = make_bookmark("https://gone.example/page", "Gone page")
    checked(engine, gone, "gone")
    assert client.get("/admin/links").status_code == 302
    assert client.post("/admin/links", data={"do": f"fine:{gone}"}).status_code in (302, 400, 403)
    assert link_row(engine, gone).state == "gone"
    assert owner.post("/admin/links", data={"do": f"fine:{gone}"}).status_code in (400, 403)  # no CSRF token
    assert link_row(engine, gone).state == "gone"


def test_broken_and_moved_links_newest_first_with_their_reasons(owner, make_bookmark, engine) -> None:  # noqa: ANN001
    ok = make_bookmark("https://fine.example/", "Fine")
    old = make_bookmark("https://old.example/", "Died long ago")
    new = make_bookmark("https://new.example/", "Died yesterday")
    moved = make_bookmark("https://moved.example/", "Moved away")
    checked(engine, ok, "ok")
    checked(engine, old, "gone", since=SAVED)
    checked(engine, new, "unreachable", since=SAVED + timedelta(days=300), reason="time limit reached")
    checked(engine, moved, "redirected", since=SAVED + timedelta(days=10), redirect_url="https://moved.example/new")
    page = owner.get("/admin/links").get_data(as_text=True)
    assert "Fine" not in page
    assert page.index("Died yesterday") < page.index("Moved away") < page.index("Died long ago")
    assert "time limit reached" in page and "https://moved.example/new" in page
    assert 'href="/admin/links" aria-current="page"' in page or 'aria-current="page">Link health' in page
    only = owner.get("/admin/links?state=redirected").get_data(as_text=True)
    assert "Moved away" in only and "Died yesterday" not in only
    assert owner.get("/admin/links?state=nonsense").status_code == 400


def test_update_to_the_redirect_target_changes_the_bookmark_and_tells_followers(owner, make_bookmark,
                                                                                engine) -> None:  # noqa: ANN001
    moved = make_bookmark("https://moved.example/", "Moved away")
    checked(engine, moved, "redirected", redirect_url="https://moved.example/new")
    with engine.connect() as conn:
        before = conn.execute(select(OUTBOX_ACTIVITIES)).all()
    response = owner.post("/admin/links", data={"csrf_token": owner.csrf, "do": f"update:{moved}"})
    assert response.status_code == 303
    with engine.connect() as conn:
        assert conn.execute(select(BOOKMARKS.c.url).where(BOOKMARKS.c.id == moved)).scalar() == \
            "https://moved.example/new"
        assert len(conn.execute(select(OUTBOX_ACTIVITIES)).all()) == len(before) + 1   # an Update
    row = link_row(engine, moved)
    assert (row.state, row.redirect_url) == ("ok", None)
    assert "Updated 1 link to its redirect target." in owner.get("/admin/links").get_data(as_text=True)


def test_bulk_actions_act_on_the_ticked_links_only(owner, make_bookmark, engine) -> None:  # noqa: ANN001
    ids = [make_bookmark(f"https://dead{n}.example/", f"Dead {n}") for n in range(3)]
    for bookmark_id in ids:
        checked(engine, bookmark_id, "gone")
    response = owner.post("/admin/links", data={"csrf_token": owner.csrf, "action": "fine",
                                                "id": [str(ids[0]), str(ids[1])]})
    assert response.status_code == 303
    assert [link_row(engine, i).state for i in ids] == ["ok", "ok", "gone"]
    assert link_row(engine, ids[0]).reason == "Marked as fine by the owner"
    owner.post("/admin/links", data={"csrf_token": owner.csrf, "action": "copy", "id": [str(ids[2])]})
    assert link_row(engine, ids[2]).show_copy is True
    # Deleting asks first (a page that works without JavaScript), saying what goes; nothing goes until confirmed.
    asked = owner.post("/admin/links", data={"csrf_token": owner.csrf, "action": "delete",
                                             "id": [str(ids[1]), str(ids[2])]})
    page = asked.get_data(as_text=True)
    assert asked.status_code == 200 and "Delete these 2 bookmarks?" in page and "Dead 1; Dead 2" in page
    assert "Nothing was deleted yet." in page and "Your followers are told with a Delete" in page
    with engine.connect() as conn:
        assert len(conn.execute(select(BOOKMARKS.c.id).where(BOOKMARKS.c.id.in_(ids))).all()) == 3
    hidden = dict(re.findall(r'<input type="hidden" name="(action|confirmed)" value="([^"]*)"', page))
    assert hidden == {"action": "delete", "confirmed": "yes"}
    assert re.findall(r'<input type="hidden" name="id" value="(\d+)"', page) == [str(ids[1]), str(ids[2])]
    owner.post("/admin/links", data={"csrf_token": owner.csrf, **hidden, "id": [str(ids[1]), str(ids[2])]})
    with engine.connect() as conn:
        assert [r[0] for r in conn.execute(select(BOOKMARKS.c.id).where(BOOKMARKS.c.id.in_(ids)))] == [ids[0]]
        assert conn.execute(select(LINK_CHECKS.c.bookmark_id)).scalars().all() == [ids[0]]


@pytest.mark.parametrize("data", [{"action": "explode", "id": "1"}, {"action": "fine"}, {"do": "fine:x"},
                                  {"action": "update", "id": "1"}])
def test_bad_input_is_a_400_and_changes_nothing(owner, make_bookmark, engine, data) -> None:  # noqa: ANN001
    bookmark_id = make_bookmark("https://dead.example/", "Dead")
    checked(engine, bookmark_id, "gone")
    data = {**data, "csrf_token": owner.csrf, **({"id": str(bookmark_id)} if "id" in data else {})}
    assert owner.post("/admin/links", data=data).status_code == 400
    assert link_row(engine, bookmark_id).state == "gone"


def test_readers_see_a_gone_link_with_the_wayback_copy_everywhere_it_is_listed(client, make_bookmark,
                                                                               engine) -> None:  # noqa: ANN001
    gone = make_bookmark("https://gone.example/story", "Gone story", tags="news", created_at=SAVED)
    alive = make_bookmark("https://alive.example/", "Alive story", tags="news", created_at=SAVED)
    checked(engine, gone, "gone")
    checked(engine, alive, "ok")
    wayback = "https://web.archive.org/web/20250304050607/https://gone.example/story"
    for path in ("/", "/tags/news", f"/bookmarks/{gone}"):
        page = client.get(path).get_data(as_text=True)
        assert "This link is gone." in page and wayback in page, path
        assert page.count("link-gone") == 1, path   # the alive one gets no mark
    assert "link-gone" not in client.get(f"/bookmarks/{alive}").get_data(as_text=True)


def saved_copy(engine, bookmark_id: int) -> None:  # noqa: ANN001
    """A finished page copy, as the worker leaves it."""
    with engine.begin() as conn:
        conn.execute(insert(PAGE_COPIES).values(
            bookmark_id=bookmark_id, state="done", host="gone.example", final_url="https://gone.example/story",
            status=200, content_type="text/html", title="Gone story", html_z=copies.compress("<p>The story.</p>"),
            text="The story.", fetched_at=SAVED, next_attempt_at=SAVED, created_at=SAVED))


def test_the_owners_choice_of_the_copy_is_what_readers_get(client, owner, make_bookmark, engine) -> None:  # noqa: ANN001
    gone = make_bookmark("https://gone.example/story", "Gone story", created_at=SAVED)
    checked(engine, gone, "gone")
    saved_copy(engine, gone)
    page = client.get(f"/bookmarks/{gone}").get_data(as_text=True)
    assert "web.archive.org/web/" in page and f"/bookmarks/{gone}/copy" not in page  # copies are the owner's
    assert client.get(f"/bookmarks/{gone}/copy").status_code == 404

    owner.post("/admin/links", data={"csrf_token": owner.csrf, "do": f"copy:{gone}"})
    page = client.get(f"/bookmarks/{gone}").get_data(as_text=True)
    assert f'href="/bookmarks/{gone}/copy"' in page and "web.archive.org" not in page
    assert "The story." in client.get(f"/bookmarks/{gone}/copy").get_data(as_text=True)  # the link leads somewhere


def test_without_a_saved_copy_readers_get_the_wayback_machines(client, owner, make_bookmark, engine) -> None:  # noqa: ANN001
    gone = make_bookmark("https://gone.example/other", "Other story", created_at=SAVED)
    checked(engine, gone, "gone")
    answer = owner.post("/admin/links", data={"csrf_token": owner.csrf, "do": f"copy:{gone}"}, follow_redirects=True)
    assert "1 has no saved copy yet" in answer.get_data(as_text=True)
    page = client.get(f"/bookmarks/{gone}").get_data(as_text=True)
    assert "https://web.archive.org/web/20250304050607/https://gone.example/other" in page
    assert f"/bookmarks/{gone}/copy" not in page


def test_an_old_weeknotes_dead_links_get_the_fallback(client, make_bookmark, engine) -> None:  # noqa: ANN001
    gone = make_bookmark("https://gone.example/story?a=1&b=2", "Gone story", created_at=SAVED)
    make_bookmark("https://alive.example/", "Alive", created_at=SAVED)
    hidden = make_bookmark("https://secret.example/", "Secret", visibility="private", created_at=SAVED)
    checked(engine, gone, "gone")
    checked(engine, hidden, "gone")
    body = ("Read [the story](https://gone.example/story?a=1&b=2) and [this](https://alive.example/) and "
            "[that](https://secret.example/) and [elsewhere](https://never-saved.example/).")
    with engine.begin() as conn:
        weeknotes.save(conn, weeknotes.WeeknoteInput("2025-W10", "Old week", body, "published", "public"), reveal=True)
    page = client.get("/weeknotes/2025-W10").get_data(as_text=True)
    assert page.count('class="link-gone"') == 1
    assert ('href="https://web.archive.org/web/20250304050607/https://gone.example/story?a=1&amp;b=2"'
            in page)


def test_the_owner_sees_each_links_state_and_when_it_was_checked(client, owner, make_bookmark,
                                                                 engine) -> None:  # noqa: ANN001
    fine = make_bookmark("https://fine.example/", "Fine")
    never = make_bookmark("https://never.example/", "Never checked")
    checked(engine, fine, "ok", since=SAVED)
    page = owner.get(f"/bookmarks/{fine}").get_data(as_text=True)
    assert "Link ok, checked 4 Mar 2025" in page and "link-gone" not in page
    assert "link-checked" not in owner.get(f"/bookmarks/{never}").get_data(as_text=True)
    assert "link-checked" not in client.get(f"/bookmarks/{fine}").get_data(as_text=True)   # the owner's alone
