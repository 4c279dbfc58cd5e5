"""The bookmarklet on a page already saved with another quote, in headless Chromium: the new selection is offered
(add, the default, or replace), never silently dropped; at phone and desktop widths, with screenshots."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest

from tests.browser.bookmarklet import bookmarklet_js, run_bookmarklet, save_and_wait_for_close, select_text
from tests.browser.screens import assert_fits, shoot
from tests.browser.site import LiveSite

pytestmark = pytest.mark.browser
SENTENCE = "Every second a program makes you wait is a second you spend wondering whether it works."


@pytest.mark.parametrize("width", [390, 1280])
def test_a_new_selection_on_a_saved_page_is_offered_not_dropped(width: int, chromium, owner_state: dict,  # noqa: ANN001
                                                                live_site: LiveSite, other_site: str,
                                                                tmp_path: Path) -> None:
    ctx = chromium.new_context(storage_state=owner_state, viewport={"width": width, "height": 844})
    ctx.set_default_timeout(10_000)
    problems: list[str] = []
    try:
        js = bookmarklet_js(ctx, live_site)
        page_url = f"{other_site}/page.html?case=quote-{width}"
        page = ctx.new_page()
        page.goto(page_url)
        select_text(page, "#sentence")
        assert save_and_wait_for_close(run_bookmarklet(page, js)) == "Saved."
        quote_of = f"SELECT quote FROM bookmarks WHERE url = '{page_url}'"
        assert live_site.rows(quote_of)[0]["quote"] == SENTENCE

        # Another selection on the same page: offered beside the saved quote, "add" chosen unless changed.
        more = page.inner_text("#more")
        select_text(page, "#more")
        popup = run_bookmarklet(page, js)
        popup.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        assert popup.input_value("#quote") == SENTENCE
        assert popup.is_visible("#offered") and popup.inner_text("#offered blockquote") == more
        assert popup.is_checked("input[name=quote_choice][value=add]")
        assert save_and_wait_for_close(popup) == "Saved."
        assert live_site.rows(quote_of)[0]["quote"] == f"{SENTENCE}\n\n{more}"

        # The same offer in the tab (no popup), at this width: "replace" puts the new words in its place.
        newer = "Déjà vu: only these words now."
        tab = ctx.new_page()
        tab.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        tab.goto(live_site.url("/save?" + urlencode({"url": page_url, "title": "x", "quote": newer})))
        assert tab.inner_text("#offered blockquote") == newer
        shoot(tab, tmp_path / f"bookmarklet-offered-quote-{width}.png")
        assert_fits(tab)
        tab.check("input[name=quote_choice][value=replace]")
        with tab.expect_navigation():
            tab.click(".bookmark-form button[type=submit]")
        assert urlsplit(tab.url).path.startswith("/bookmarks/")
        assert live_site.rows(quote_of)[0]["quote"] == newer
        assert len(live_site.rows(f"SELECT id FROM bookmarks WHERE url = '{page_url}'")) == 1
        assert problems == []
    finally:
        ctx.close()


def test_the_bookmarklet_page_warns_when_loaded_from_another_address(chromium, live_site: LiveSite,  # noqa: ANN001
                                                                      tmp_path: Path) -> None:
    """The site's base_url is http://127.0.0.1:<port>; the same server reached as localhost is another address."""
    ctx = chromium.new_context(viewport={"width": 390, "height": 844})
    try:
        page = ctx.new_page()
        page.goto(live_site.url("/bookmarklet"))
        assert page.locator("[role=alert]").count() == 0
        other = live_site.url("/bookmarklet").replace("127.0.0.1", "localhost")
        page.goto(other)
        alert = page.inner_text("[role=alert]")
        assert "would point nowhere" in alert and live_site.url("") in alert
        assert urlsplit(other).netloc in alert
        shoot(page, tmp_path / "bookmarklet-mismatch-390.png")
        assert_fits(page)
    finally:
        ctx.close()
