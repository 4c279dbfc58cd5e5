"""The pages issue 10's "fewer surprises" changed, in Chromium at 390 and 1280 px: the weeknote editor's preview,
the weeknote index, search finding weeknotes, a list with a cut annotation, the to-read list and the edit page.
Each is screenshotted (kept with LINKBLOG_KEEP_SCREENS=1), checked for overflow and console errors; the counter on
long fields is checked working (form.js)."""
from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from linkblog import bookmarks
from linkblog.db import make_engine, utcnow
from linkblog.markup import render_markdown
from linkblog.weeknotes import current_week
from tests.browser.screens import assert_fits, shoot, watch_errors
from tests.browser.site import LiveSite

pytestmark = pytest.mark.browser
LONG = ("A long annotation that goes on. " * 40) + "The end is only on the permalink."
BODY = ("## Links this week\n\n- [Slow software](<https://example.org/slow>) — about waiting\n\n"
        "## Thoughts\n\nA week of **lighthouses** and reading.")


@pytest.fixture(scope="module")
def seeded(live_site: LiveSite) -> dict[str, object]:
    engine = make_engine(f"sqlite:///{live_site.database}")
    start = utcnow() - timedelta(hours=3)
    with engine.begin() as conn:
        long_id = bookmarks.create(conn, bookmarks.validate({"url": "https://example.org/long", "title": "Lighthouse keeping",
                                                             "annotation": LONG, "tags": "lighthouses"}),
                                   created_at=start)
        later = bookmarks.create(conn, bookmarks.validate({"url": "https://example.org/later", "title": "Read me later",
                                                           "toread": True, "annotation": "# Heading\n\nText."}),
                                 created_at=start + timedelta(hours=1))
    engine.dispose()
    week = current_week()
    now = utcnow().strftime("%Y-%m-%d %H:%M:%S.%f")
    with sqlite3.connect(live_site.database) as conn:
        conn.execute("INSERT INTO weeknotes (week, title, body, body_html, status, visibility, created_at, "
                     "updated_at, published_at) VALUES (?, '', ?, ?, 'published', 'public', ?, ?, ?)",
                     (week, BODY, render_markdown(BODY), now, now, now))
    return {"long": long_id, "later": later, "week": week}


PAGES = {
    "home-cut": ("/", False),
    "weeknotes-index": ("/weeknotes/", False),
    "search-weeknotes": ("/search?q=lighthouses", False),
    "toread": ("/admin/toread", True),
    "edit": ("/bookmarks/{later}/edit", True),
    "weeknote-editor": ("/admin/weeknotes/{week}", True),
}


@pytest.mark.parametrize("width", [390, 1280])
@pytest.mark.parametrize("name", list(PAGES))
def test_changed_pages_look_right(name: str, width: int, chromium, live_site: LiveSite, seeded: dict,  # noqa: ANN001
                                  owner_state: dict, tmp_path: Path) -> None:
    path, as_owner = PAGES[name]
    ctx = chromium.new_context(viewport={"width": width, "height": 900},
                               storage_state=owner_state if as_owner else None)
    ctx.set_default_timeout(10_000)
    try:
        page = ctx.new_page()
        problems = watch_errors(page)
        response = page.goto(live_site.url(path.format(**seeded)))
        assert response is not None and response.status == 200
        if name == "weeknote-editor":
            with page.expect_navigation():
                page.click("button[name=action][value=preview]")
            assert page.is_visible(".weeknote-preview strong")
        if name == "edit":
            page.fill("#title", "x" * 490)
            assert page.inner_text("#title-counter") == "490 of 500 characters"
            page.fill("#title", "x" * 512)  # no maxlength: nothing is cut, the counter says by how much
            assert page.input_value("#title") == "x" * 512
            assert "12 characters over the limit of 500" in page.inner_text("#title-counter")
        shoot(page, tmp_path / f"{name}-{width}.png")
        assert_fits(page)
        assert problems == []
        if name == "home-cut":
            assert "The end is only on the permalink." not in page.inner_text("main")
            assert page.is_visible("text=Read more")
        if name == "search-weeknotes":
            assert "Found 1 link and 1 weeknote." in page.inner_text("main")
    finally:
        ctx.close()
