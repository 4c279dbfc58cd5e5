"""The owner's dashboard and weeknote pages, through the app on both databases: draft, edit, publish,
delete, "Add to this week's note", validation, and who may see what."""
from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from linkblog import weeknotes
from linkblog.models import Weeknote

from tests.support.app import csrf_of

W = Weeknote.__table__
WEEK = "2026-W47"
ADMIN_GETS = ["/admin/", "/admin/weeknotes", f"/admin/weeknotes/{WEEK}", "/admin/tags", "/admin/tags?old=web",
              "/admin/tokens"]
ADMIN_POSTS = [("/admin/weeknotes", {"current": "1"}), ("/admin/weeknotes", {"week": WEEK}),
               (f"/admin/weeknotes/{WEEK}", {"title": "x", "body": "y", "status": "published",
                                             "visibility": "public"}),
               (f"/admin/weeknotes/{WEEK}/delete", {}), ("/admin/tags/rename", {"old": "a", "new": "b"}),
               ("/admin/tokens", {"name": "phone"}), ("/admin/tokens/revoke", {"name": "phone"})]


def _rows(engine) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(W).order_by(W.c.week)).mappings()]


def _start(owner, week: str):
    return owner.post("/admin/weeknotes", data={"week": week, "csrf_token": owner.csrf})


def _edit(owner, week: str, **fields):
    data = {"title": "", "body": "", "status": "draft", "visibility": "public", "csrf_token": owner.csrf}
    data.update(fields)
    return owner.post(f"/admin/weeknotes/{week}", data=data)


# Access


@pytest.mark.parametrize("path", ADMIN_GETS)
def test_admin_pages_send_visitors_to_login_and_back(client, path):
    response = client.get(path)
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login"
    assert parse_qs(location.query) == {"next": [path]}


@pytest.mark.parametrize("path, data", ADMIN_POSTS)
def test_admin_posts_from_visitors_change_nothing(client, engine, path, data):
    token = csrf_of(client)  # a valid form token is not enough without the owner's session
    response = client.post(path, data={**data, "csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")
    assert _rows(engine) == []


@pytest.mark.parametrize("path, data", ADMIN_POSTS)
def test_admin_posts_without_csrf_token_are_refused(owner, engine, path, data):
    response = owner.post(path, data=data)
    assert response.status_code == 400
    assert b"CSRF" in response.data
    assert _rows(engine) == []


@pytest.mark.parametrize("path", ADMIN_GETS)
def test_admin_pages_open_for_the_owner(owner, path):
    if path.startswith("/admin/weeknotes/"):
        _start(owner, WEEK)
    response = owner.get(path)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "private, no-store"
    page = response.get_data(as_text=True)
    assert 'name="robots" content="noindex"' in page
    assert re.search(r'<input type="hidden" name="csrf_token" value="[^"]+">', page)
    assert " style=" not in page and "<script>" not in page


# Dashboard


def test_dashboard_links_and_counts(owner, make_bookmark):
    make_bookmark("https://a.example/", "A")
    make_bookmark("https://b.example/", "B")
    make_bookmark("https://c.example/", "C", visibility="private")
    make_bookmark("https://d.example/", "D", visibility="unlisted")
    _start(owner, "2026-W46")
    _start(owner, WEEK)
    _edit(owner, WEEK, body="Done.", status="published")
    page = owner.get("/admin/").get_data(as_text=True)
    for href in ("/save", "/admin/weeknotes", "/admin/tags", "/admin/tokens", "/bookmarklet", "/settings/password"):
        assert f'href="{href}"' in page
    counts = dict(re.findall(r'<strong class="stat-([a-z-]+)">(\d+)</strong>', page))
    assert counts["bookmarks"] == "4" and counts["weeknotes"] == "2"
    assert "2 public · 1 unlisted · 0 followers · 1 private" in page
    assert "Weeknotes: 1 draft, 1 published." in page


# The weeknote flow


def test_draft_edit_publish_flow(owner, client, engine, make_bookmark):
    start, end = weeknotes.week_bounds_utc(WEEK, "UTC")
    make_bookmark("https://in.example/", "In the week", created_at=datetime(2026, 11, 18, 9, 0),
                  annotation="Why it matters.\nMore detail.")
    make_bookmark("https://secret.example/", "Private in the week", created_at=datetime(2026, 11, 18, 10, 0),
                  visibility="private")
    make_bookmark("https://old.example/", "Last week", created_at=start.replace(hour=0) - (end - start))

    response = _start(owner, WEEK)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/admin/weeknotes/{WEEK}"
    [row] = _rows(engine)
    assert (row["week"], row["status"], row["published_at"]) == (WEEK, "draft", None)
    assert "- [In the week](<https://in.example/>) — Why it matters." in row["body"]
    assert "secret.example" not in row["body"] and "old.example" not in row["body"]

    editor = owner.get(f"/admin/weeknotes/{WEEK}").get_data(as_text=True)
    assert weeknotes.week_label(WEEK) in editor
    assert "Why it matters." in editor and '<label for="body">' in editor and '<label for="title">' in editor

    # A draft: the owner sees it; readers do not, and it is listed nowhere for them.
    assert _edit(owner, WEEK, title="Week of reading", body=row["body"] + "\nMy *thoughts*.\n").status_code == 302
    assert client.get(f"/weeknotes/{WEEK}").status_code == 404
    assert WEEK not in client.get("/weeknotes/").get_data(as_text=True)
    assert "Week of reading" not in client.get("/").get_data(as_text=True)
    assert "Week of reading" in owner.get(f"/weeknotes/{WEEK}").get_data(as_text=True)
    assert _rows(engine)[0]["published_at"] is None

    # Published: visible at its permalink, on the weeknote index and on the home page.
    response = _edit(owner, WEEK, title="Week of reading", body=row["body"] + "\nMy *thoughts*.\n",
                     status="published")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/weeknotes/{WEEK}"
    [published] = _rows(engine)
    assert published["status"] == "published" and published["published_at"] is not None
    page = client.get(f"/weeknotes/{WEEK}").get_data(as_text=True)
    assert "Week of reading" in page and "<em>thoughts</em>" in page
    assert 'href="https://in.example/"' in page
    assert f'href="/weeknotes/{WEEK}"' in client.get("/weeknotes/").get_data(as_text=True)
    assert "Week of reading" in client.get("/").get_data(as_text=True)
    assert "Published." in owner.get(f"/weeknotes/{WEEK}").get_data(as_text=True)  # the flash message

    # Back to draft: gone for readers again, the first publication time is kept.
    _edit(owner, WEEK, title="Week of reading", body="Rewriting.", status="draft")
    assert client.get(f"/weeknotes/{WEEK}").status_code == 404
    assert _rows(engine)[0]["published_at"] == published["published_at"]


def test_admin_list_shows_drafts_with_status_and_visibility(owner, client):
    _start(owner, "2026-W45")
    _start(owner, WEEK)
    _edit(owner, WEEK, title="Private one", body="x", status="published", visibility="private")
    page = owner.get("/admin/weeknotes").get_data(as_text=True)
    rows = re.findall(r"<tr>(.*?)</tr>", page.split("<tbody>", 1)[1], re.S)
    assert ["2026-W47" in rows[0], "2026-W45" in rows[1], len(rows)] == [True, True, 2]  # newest week first
    draft_row = next(r for r in rows if "2026-W45" in r)
    private_row = next(r for r in rows if "2026-W47" in r)
    assert "draft" in draft_row and "public" in draft_row
    assert "published" in private_row and "private" in private_row and "Private one" in private_row
    assert client.get(f"/weeknotes/{WEEK}").status_code == 404
    assert owner.get(f"/weeknotes/{WEEK}").status_code == 200


def _redirected_to_this_week(owner, path: str, data: dict[str, str] | None = None) -> str:  # noqa: ANN001
    """POST ``path`` as the owner; the answer redirects to the current week's note (either side of a week
    boundary crossed meanwhile), whose week is returned."""
    before = weeknotes.current_week("UTC")
    response = owner.post(path, data={**(data or {}), "csrf_token": owner.csrf})
    after = weeknotes.current_week("UTC")
    assert response.status_code == 302
    week = response.headers["Location"].rsplit("/", 1)[1]
    assert week in (before, after)
    return week


def test_write_this_weeks_note_drafts_the_current_week(owner, engine):
    week = _redirected_to_this_week(owner, "/admin/weeknotes", {"current": "1"})
    [row] = _rows(engine)
    assert (row["week"], row["status"]) == (week, "draft")
    assert row["body"].startswith("## Links this week\n")
    # Pressing it again opens the same note instead of failing or duplicating it.
    again = owner.post("/admin/weeknotes", data={"current": "1", "csrf_token": owner.csrf})
    assert again.status_code == 302
    assert len(_rows(engine)) == 1


def test_write_this_weeks_note_uses_the_configured_heading(app, owner, engine):
    app.extensions["linkblog"].config.values[("weeknotes", "links_heading")] = "Saved lately"
    owner.post("/admin/weeknotes", data={"current": "1", "csrf_token": owner.csrf})
    assert _rows(engine)[0]["body"].startswith("## Saved lately\n")


def test_start_accepts_a_lower_case_week(owner, engine):
    response = _start(owner, " 2026-w10 ")
    assert response.headers["Location"] == "/admin/weeknotes/2026-W10"
    assert [r["week"] for r in _rows(engine)] == ["2026-W10"]


@pytest.mark.parametrize("typed, message", [
    ("2026-W54", "2026 has weeks 01 to 53"),
    ("2025-W53", "2025 has weeks 01 to 52"),
    ("banana", "is not an ISO week"),
    ("", "Enter a week"),
])
def test_start_with_a_week_that_does_not_exist_is_reshown(owner, engine, typed, message):
    response = _start(owner, typed)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in page
    assert 'role="alert"' in page and 'aria-invalid="true"' in page
    assert f'value="{typed}"' in page
    assert _rows(engine) == []


def test_editor_of_a_missing_or_impossible_week_is_404(owner):
    assert owner.get(f"/admin/weeknotes/{WEEK}").status_code == 404
    assert owner.get("/admin/weeknotes/2025-W53").status_code == 404
    assert owner.get("/admin/weeknotes/banana").status_code == 404
    assert _edit(owner, WEEK, body="x").status_code == 404


@pytest.mark.parametrize("fields, field", [
    ({"status": "live"}, "status"),
    ({"visibility": "everyone"}, "visibility"),
    ({"title": "x" * 501}, "title"),
    ({"title": "bell\x07"}, "title"),
    ({"body": "bad \x01 byte"}, "body"),
    ({"body": "b" * 100_001}, "body"),
])
def test_invalid_edit_is_reshown_with_the_typed_text_and_changes_nothing(owner, engine, fields, field):
    _start(owner, WEEK)
    before = _rows(engine)
    typed = {"title": "My <draft> title", "body": "Typed & kept.\n\nSecond paragraph.", **fields}
    response = _edit(owner, WEEK, **typed)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Nothing was saved" in page and 'role="alert"' in page
    assert re.search(rf'<(input|textarea|fieldset)[^>]*id="{field}"[^>]*aria-invalid="true"', page) \
        or re.search(rf'aria-labelledby="{field}" aria-invalid="true"', page)
    if field != "title":
        assert 'value="My &lt;draft&gt; title"' in page
    if field != "body":
        assert "Typed &amp; kept.\n\nSecond paragraph.</textarea>" in page
    assert _rows(engine) == before


def test_delete_removes_the_note(owner, client, engine):
    _start(owner, WEEK)
    _edit(owner, WEEK, title="Gone soon", body="x", status="published")
    assert client.get(f"/weeknotes/{WEEK}").status_code == 200
    response = owner.post(f"/admin/weeknotes/{WEEK}/delete", data={"csrf_token": owner.csrf})
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/weeknotes"
    assert _rows(engine) == []
    assert client.get(f"/weeknotes/{WEEK}").status_code == 404
    assert owner.post(f"/admin/weeknotes/{WEEK}/delete", data={"csrf_token": owner.csrf}).status_code == 404


# "Add to this week's note" on a bookmark's page


def test_add_to_this_weeks_note_drafts_and_then_appends(owner, client, engine, make_bookmark):
    first = make_bookmark("https://first.example/", "First [one]", annotation="Short note.\nMore.")
    week = _redirected_to_this_week(owner, f"/bookmarks/{first}/to-weeknote")
    [row] = _rows(engine)
    assert (row["week"], row["status"]) == (week, "draft")
    assert row["body"] == "## Links this week\n\n- [First \\[one\\]](<https://first.example/>) — Short note.\n"
    assert client.get(f"/weeknotes/{week}").status_code == 404  # still a draft

    # Saved after the draft began, then added: the same list format, in the same list, once.
    second = make_bookmark("https://second.example/", "Second")
    _edit(owner, week, body=row["body"] + "\n## Thoughts\n\nMy words.\n")
    owner.post(f"/bookmarks/{second}/to-weeknote", data={"csrf_token": owner.csrf})
    again = owner.post(f"/bookmarks/{second}/to-weeknote", data={"csrf_token": owner.csrf}, follow_redirects=True)
    assert "lists it already" in again.get_data(as_text=True)
    [row] = _rows(engine)
    assert row["body"] == ("## Links this week\n\n- [First \\[one\\]](<https://first.example/>) — Short note.\n"
                           "- [Second](<https://second.example/>)\n\n## Thoughts\n\nMy words.\n")
    assert 'href="https://second.example/"' in owner.get(f"/weeknotes/{week}").get_data(as_text=True)


def test_add_to_this_weeks_note_needs_the_owner_a_token_and_a_bookmark(owner, client, engine, make_bookmark):
    bookmark_id = make_bookmark("https://first.example/", "First")
    assert owner.post(f"/bookmarks/{bookmark_id}/to-weeknote").status_code == 400
    token = csrf_of(client)
    assert client.post(f"/bookmarks/{bookmark_id}/to-weeknote", data={"csrf_token": token}).status_code == 302
    assert owner.post("/bookmarks/999/to-weeknote", data={"csrf_token": owner.csrf}).status_code == 404
    assert _rows(engine) == []


# Privacy: non-public bookmarks never reach a public weeknote without the owner's confirmation

SECRET_NOTE = "Only for me: the landlord's number is 555-0199."
PUBLIC_SURFACES = ["/weeknotes/{week}", "/weeknotes/", "/feeds/weeknotes.atom", "/feeds/weeknotes.rss",
                   "/feeds/weeknotes.json", "/feeds/all.atom", "/feeds/all.json", "/actor/outbox?page=true"]


def _public_text(client, engine, week: str) -> str:
    """Everything a stranger or a follower's server can read about the week: pages, feeds, what was queued."""
    from linkblog.models import OUTBOX_ACTIVITIES

    text = "".join(client.get(path.format(week=week)).get_data(as_text=True) for path in PUBLIC_SURFACES)
    with engine.connect() as conn:
        return text + "".join(conn.execute(select(OUTBOX_ACTIVITIES.c.payload)).scalars())


def _publish(owner, engine, week: str, **fields):
    [row] = [r for r in _rows(engine) if r["week"] == week]
    return _edit(owner, week, body=row["body"], status="published", visibility="public", **fields)


@pytest.mark.parametrize("visibility", ["private", "followers"])
def test_a_non_public_bookmark_joins_this_weeks_note_only_after_a_warning(owner, client, engine, make_bookmark,
                                                                         visibility):
    shared = make_bookmark("https://shared.example/", "Shared")
    secret = make_bookmark(f"https://{visibility}.example/secret", "Secret plans", annotation=SECRET_NOTE,
                           visibility=visibility)
    week = owner.post(f"/bookmarks/{shared}/to-weeknote",
                      data={"csrf_token": owner.csrf}).headers["Location"].rsplit("/", 1)[1]
    warning = owner.post(f"/bookmarks/{secret}/to-weeknote", data={"csrf_token": owner.csrf})
    assert warning.status_code == 409
    page = warning.get_data(as_text=True)
    assert "Nothing was added yet" in page and "everyone who can read it" in page
    assert 'name="reveal" value="1"' in page and f'action="/bookmarks/{secret}/to-weeknote"' in page
    [row] = _rows(engine)
    assert f"{visibility}.example" not in row["body"] and "555-0199" not in row["body"]

    assert _publish(owner, engine, week).status_code == 302
    public = _public_text(client, engine, week)
    assert "https://shared.example/" in public
    assert f"{visibility}.example" not in public and "555-0199" not in public

    confirmed = owner.post(f"/bookmarks/{secret}/to-weeknote", data={"csrf_token": owner.csrf, "reveal": "1"})
    assert confirmed.status_code == 302
    public = _public_text(client, engine, week)
    assert f"https://{visibility}.example/secret" in public and "555-0199" in public


def test_a_private_bookmark_in_a_private_note_needs_no_warning_until_the_note_goes_public(owner, client, engine,
                                                                                          make_bookmark):
    secret = make_bookmark("https://private.example/secret", "Secret plans", annotation=SECRET_NOTE,
                           visibility="private")
    week = weeknotes.current_week("UTC")
    _start(owner, week)
    assert _edit(owner, week, body="Notes to self.", visibility="private").status_code == 302
    added = owner.post(f"/bookmarks/{secret}/to-weeknote", data={"csrf_token": owner.csrf})
    assert added.status_code == 302  # private inside private: nobody new sees it
    held = _publish(owner, engine, week)
    assert held.status_code == 409
    page = held.get_data(as_text=True)
    assert "https://private.example/secret" in page and 'type="checkbox" id="reveal" name="reveal"' in page
    [row] = _rows(engine)
    assert (row["status"], row["visibility"]) == ("draft", "private")  # nothing saved
    assert "555-0199" not in _public_text(client, engine, week)
    assert _publish(owner, engine, week, reveal="1").status_code == 302
    assert "555-0199" in _public_text(client, engine, week)


def test_the_links_this_week_draft_leaves_non_public_bookmarks_out(owner, client, engine, make_bookmark):
    make_bookmark("https://shared.example/", "Shared")
    for visibility in ("private", "followers"):
        make_bookmark(f"https://{visibility}.example/secret", "Secret", annotation=SECRET_NOTE, visibility=visibility)
    week = weeknotes.current_week("UTC")
    assert owner.post("/admin/weeknotes", data={"current": "1", "csrf_token": owner.csrf}).status_code == 302
    assert _publish(owner, engine, week).status_code == 302  # no warning: nothing non-public was drafted
    public = _public_text(client, engine, week)
    assert "https://shared.example/" in public
    assert "private.example" not in public and "followers.example" not in public and "555-0199" not in public
