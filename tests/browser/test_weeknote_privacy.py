"""A private bookmark and this week's note in a real browser with JavaScript off: "Add to this week's note"
shows a warning page first, Cancel adds nothing, and only "Add it anyway" puts the private note in."""
from __future__ import annotations

from urllib.parse import quote, urlsplit

import pytest

from tests.browser.site import LiveSite

pytestmark = pytest.mark.browser

SECRET = "Only for me: the door code is 4711."


@pytest.fixture
def no_script_owner(chromium, owner_state: dict):  # noqa: ANN001, ANN201
    """The owner's browser with JavaScript switched off: the confirmation must be plain forms."""
    ctx = chromium.new_context(storage_state=owner_state, java_script_enabled=False)
    ctx.set_default_timeout(10_000)
    yield ctx
    ctx.close()


def _weeknote_bodies(site: LiveSite) -> str:
    return "".join(row["body"] for row in site.rows("SELECT body FROM weeknotes"))


def test_adding_a_private_bookmark_to_the_weeknote_asks_first(no_script_owner, live_site: LiveSite) -> None:
    page = no_script_owner.new_page()
    page.goto(live_site.url("/save?url=" + quote("https://example.org/door-code", safe="") + "&title=Door"))
    page.fill("#annotation", SECRET)
    page.check("input[name=visibility][value=private]")
    with page.expect_navigation():
        page.click(".bookmark-form button[type=submit]")
    bookmark_path = urlsplit(page.url).path
    assert bookmark_path.startswith("/bookmarks/")

    with page.expect_navigation():
        page.click("form[action$='/to-weeknote'] button")
    assert "Show a private (only you) bookmark in the weeknote?" in page.inner_text("h1")
    assert "Nothing was added yet" in page.inner_text("main")
    with page.expect_navigation():
        page.click("text=Cancel")
    assert urlsplit(page.url).path == bookmark_path
    assert "4711" not in _weeknote_bodies(live_site)

    with page.expect_navigation():
        page.click("form[action$='/to-weeknote'] button")
    with page.expect_navigation():
        page.click("text=Add it anyway")
    assert urlsplit(page.url).path.startswith("/weeknotes/")
    assert "4711" in page.inner_text("main")
    assert "4711" in _weeknote_bodies(live_site)
