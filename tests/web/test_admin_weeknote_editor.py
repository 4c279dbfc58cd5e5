"""The weeknote editor's Preview and "Refresh links" (both re-show the editor, saving nothing), and what readers see
of weeks: human labels beside the ISO name, an index with dates and a first line, and a permalink's "in the
weeknote" line only when that weeknote exists, is visible to the reader and lists the item."""
from __future__ import annotations

import re
from datetime import datetime
from html import unescape

from sqlalchemy import select, update

from linkblog import weeknotes
from linkblog.models import WEEKNOTES

WEEK = "2026-W47"  # Monday 16 Nov - Sunday 22 Nov 2026
LABEL = "Week 47 · 16 Nov – 22 Nov 2026"


def _body(engine) -> str:  # noqa: ANN001
    with engine.connect() as conn:
        return conn.execute(select(WEEKNOTES.c.body).where(WEEKNOTES.c.week == WEEK)).scalar_one()


def _textarea(response) -> str:  # noqa: ANN001
    match = re.search(r'<textarea id="body"[^>]*>(.*?)</textarea>', response.get_data(as_text=True), re.S)
    assert match, response.get_data(as_text=True)
    return unescape(match.group(1))


def _text(response) -> str:  # noqa: ANN001
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).split())


def _post(owner, body: str, **extra: str):  # noqa: ANN001, ANN201
    return owner.post(f"/admin/weeknotes/{WEEK}", data={"title": "", "body": body, "status": "draft",
                                                        "visibility": "public", "csrf_token": owner.csrf, **extra})


def test_refresh_links_adds_the_public_links_saved_since_the_draft_began_once(owner, engine, make_bookmark):
    make_bookmark("https://early.example/", "Early", created_at=datetime(2026, 11, 16, 10))
    owner.post("/admin/weeknotes", data={"week": WEEK, "csrf_token": owner.csrf})
    with engine.begin() as conn:  # the draft began on Tuesday
        conn.execute(update(WEEKNOTES).values(created_at=datetime(2026, 11, 17, 0)))
    started = _body(engine)
    assert "https://early.example/" in started
    make_bookmark("https://later.example/", "Later", annotation="Worth it.", created_at=datetime(2026, 11, 18, 9))
    make_bookmark("https://secret.example/", "Secret", visibility="private", created_at=datetime(2026, 11, 18, 9))
    make_bookmark("https://next-week.example/", "Next", created_at=datetime(2026, 11, 23, 9))

    typed = started + "\nMy own words.\n"
    refreshed = _post(owner, typed, action="refresh")
    assert refreshed.status_code == 200
    body = _textarea(refreshed)
    assert body == ("## Links this week\n\n- [Early](<https://early.example/>)\n"
                    "- [Later](<https://later.example/>) — Worth it.\n\nMy own words.\n")
    assert "Added 1 link saved since this draft began" in _text(refreshed)
    assert _body(engine) == started  # nothing saved until the owner presses Save

    again = _post(owner, body, action="refresh")
    assert _textarea(again) == body and "No new links since this draft began" in _text(again)
    assert _post(owner, body).status_code == 302
    assert _body(engine) == body


def test_preview_renders_on_the_server_and_saves_nothing(owner, engine):
    owner.post("/admin/weeknotes", data={"week": WEEK, "csrf_token": owner.csrf})
    started = _body(engine)
    preview = _post(owner, "Some **bold** words.\n\n- [a link](https://example.org/)", action="preview",
                    status="published")
    assert preview.status_code == 200
    page = preview.get_data(as_text=True)
    section = page.split('<section class="weeknote-preview"', 1)[1]
    assert "<strong>bold</strong>" in section and 'href="https://example.org/"' in section
    assert "Some **bold** words." in _textarea(preview)  # the typed text stays in the editor
    assert 'name="action" value="preview"' in page
    with engine.connect() as conn:
        row = conn.execute(select(WEEKNOTES).where(WEEKNOTES.c.week == WEEK)).mappings().one()
    assert (row["body"], row["status"]) == (started, "draft")


def _note(engine, body: str, *, status: str = "published", visibility: str = "public", title: str = "") -> None:  # noqa: ANN001
    with engine.begin() as conn:
        item = weeknotes.validate({"week": WEEK, "title": title, "body": body, "status": status,
                                   "visibility": visibility})
        existing = conn.execute(select(WEEKNOTES.c.id).where(WEEKNOTES.c.week == WEEK)).scalar()
        weeknotes.save(conn, item, existing, reveal=True)


def test_the_permalink_names_the_weeknote_only_when_it_lists_the_item_and_the_reader_may_see_it(
        owner, client, engine, make_bookmark):
    bookmark_id = make_bookmark("https://listed.example/", "Listed", created_at=datetime(2026, 11, 18, 9))
    line = f'<a href="/weeknotes/{WEEK}">the weeknote for {LABEL}</a>'

    def shows(who) -> bool:  # noqa: ANN001
        return line in who.get(f"/bookmarks/{bookmark_id}").get_data(as_text=True)

    assert not shows(client) and not shows(owner)  # no weeknote at all
    _note(engine, "Nothing about that link.")
    assert not shows(client) and not shows(owner)  # a weeknote that week, but it does not list the item
    _note(engine, "- [Listed](<https://listed.example/>)", status="draft")
    assert not shows(client) and shows(owner)  # a draft: only the owner can follow the link
    _note(engine, "- [Listed](<https://listed.example/>)", visibility="private")
    assert not shows(client) and shows(owner)
    _note(engine, "- [Listed](<https://listed.example/>)")
    assert shows(client) and shows(owner)


def test_readers_see_human_week_labels_dates_and_a_first_line(client, engine):
    _note(engine, "## Links this week\n\n- [A thing](<https://a.example/>) — why it matters\n\nMore text.",
          title="Ten things")
    with engine.begin() as conn:
        conn.execute(update(WEEKNOTES).values(published_at=datetime(2026, 11, 22, 18)))
    index = _text(client.get("/weeknotes/"))
    assert f"Ten things {LABEL} · {WEEK} · published 22 Nov 2026" in index
    assert "A thing — why it matters" in index
    page = _text(client.get(f"/weeknotes/{WEEK}"))
    assert f"{LABEL} ({WEEK})" in page
