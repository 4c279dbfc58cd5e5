"""Deleting in a real browser with JavaScript off, at phone and desktop widths: the Delete link opens a page that
says what happens (followers are told with a Delete), Cancel keeps the bookmark, and only its button deletes."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest

from tests.browser.screens import assert_fits, shoot
from tests.browser.site import LiveSite

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("width", [390, 1280])
def test_delete_asks_first_without_javascript(width: int, chromium, owner_state: dict,  # noqa: ANN001
                                              live_site: LiveSite, tmp_path: Path) -> None:
    ctx = chromium.new_context(storage_state=owner_state, java_script_enabled=False,
                               viewport={"width": width, "height": 844})
    ctx.set_default_timeout(10_000)
    try:
        page = ctx.new_page()
        url = f"https://example.org/delete-me-{width}"
        page.goto(live_site.url("/save?url=" + quote(url, safe="") + "&title=Delete+me"))
        with page.expect_navigation():
            page.click(".bookmark-form button[type=submit]")
        bookmark_path = urlsplit(page.url).path
        count = f"SELECT count(*) AS n FROM bookmarks WHERE url = '{url}'"

        with page.expect_navigation():
            page.click("text=Delete…")
        assert page.inner_text("h1") == "Delete the bookmark “Delete me”?"
        main = page.inner_text("main")
        assert "Nothing was deleted yet" in main and "followers are told with a Delete" in main
        shoot(page, tmp_path / f"delete-confirm-{width}.png")
        assert_fits(page)
        assert live_site.rows(count)[0]["n"] == 1

        with page.expect_navigation():
            page.click("text=Cancel")
        assert urlsplit(page.url).path == bookmark_path
        assert live_site.rows(count)[0]["n"] == 1

        with page.expect_navigation():
            page.click("text=Delete…")
        with page.expect_navigation():
            page.click("button:has-text('Delete it')")
        assert urlsplit(page.url).path == "/"
        assert "Bookmark deleted." in page.inner_text("body")
        assert live_site.rows(count)[0]["n"] == 0
    finally:
        ctx.close()
