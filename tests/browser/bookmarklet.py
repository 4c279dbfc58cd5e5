"""Driving the bookmarklet in a browser as a reader does: take its code from the /bookmarklet page, select text
on another site's page, run it, press Save in the window it opens."""
from __future__ import annotations

from urllib.parse import unquote

from tests.browser.site import LiveSite


def bookmarklet_js(context, site: LiveSite) -> str:  # noqa: ANN001
    """The code a click on the dragged bookmark would run, taken from the /bookmarklet page."""
    page = context.new_page()
    page.goto(site.url("/bookmarklet"))
    href = page.get_attribute("a.bookmarklet-link", "href")
    page.close()
    assert href and href.startswith("javascript:")
    return unquote(href.removeprefix("javascript:"))


def select_text(page, selector: str) -> None:  # noqa: ANN001
    """Select an element's text as a reader dragging the mouse over it would."""
    page.evaluate("""selector => {
        const range = document.createRange();
        range.selectNodeContents(document.querySelector(selector));
        const selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
    }""", selector)


def run_bookmarklet(page, js: str):  # noqa: ANN001, ANN201
    """Run the bookmarklet in ``page`` and return the window it opens, loaded."""
    with page.expect_popup() as info:
        page.evaluate(js)
    popup = info.value
    popup.wait_for_load_state()
    return popup


def save_and_wait_for_close(popup) -> str:  # noqa: ANN001
    """Press Save; return the heading of the page that follows, once the window has closed itself."""
    closed: list[bool] = []
    popup.on("close", lambda _: closed.append(True))
    with popup.expect_navigation():
        popup.click(".bookmark-form button[type=submit]")
    heading = popup.text_content("h1") or ""
    if not closed:
        popup.wait_for_event("close")
    return heading
