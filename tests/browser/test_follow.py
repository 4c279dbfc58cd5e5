"""Readers following the site, in Chromium: the handle's copy button, the Follow dialog (screenshots at 390 and
1280 px) that sends the reader to their server, and the same without JavaScript; the owner's settings page
that fills in the name, bio and avatar the dialog and the about page show.

The readers' servers (https://mastodon.social/...) are never reached: ``offline_chromium`` resolves no name
but 127.0.0.1, and the test reads the URL of the request that then fails."""
from __future__ import annotations

import io
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from PIL import Image
from playwright.sync_api import expect

from tests.browser.screens import assert_fits, shoot
from tests.browser.site import LiveSite

pytestmark = pytest.mark.browser

VIEWPORTS = {"phone": (390, 844), "desktop": (1280, 900)}


def handle(site: LiveSite) -> str:
    return f"@{site.username}@{urlsplit(site.base_url).netloc}"


def watch(page, problems: list[str]) -> None:  # noqa: ANN001
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))


def sent_to_reader_server(page, submit) -> str:  # noqa: ANN001
    """Submit the follow form; returns the URL the browser then asked for on the reader's server. That
    request fails by design (offline_chromium resolves no outside name): it failing with
    ERR_NAME_NOT_RESOLVED, not ERR_BLOCKED_BY_CSP, shows our CSP let the form's redirect through."""
    with page.expect_event("requestfailed", lambda r: r.url.startswith("https://")) as failed:
        submit()
    assert failed.value.failure == "net::ERR_NAME_NOT_RESOLVED"
    return failed.value.url


@pytest.fixture(scope="module")
def screens_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("follow-screens")


@pytest.fixture(scope="module")
def profile(chromium, owner_state: dict, live_site: LiveSite, screens_dir: Path) -> dict:  # noqa: ANN001
    """The owner fills in the settings page in the browser (with an avatar upload) and saves it."""
    picture = io.BytesIO()
    image = Image.new("RGB", (900, 900), (31, 95, 168))
    image.paste((240, 200, 60), (300, 300, 600, 600))
    image.save(picture, "JPEG")
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, storage_state=owner_state)
    problems: list[str] = []
    try:
        page = context.new_page()
        watch(page, problems)
        page.goto(live_site.url("/admin/settings"))
        page.fill("#display_name", "Ada Lovelace")
        page.fill("#bio", "I keep links about **engines**, notes and numbers.")
        page.fill("#title", "Ada's links")
        page.set_input_files("#avatar", files=[{"name": "me.jpg", "mimeType": "image/jpeg",
                                                 "buffer": picture.getvalue()}])
        with page.expect_navigation():
            page.click("form.settings-form button[type=submit]")
        assert "Saved:" in page.locator(".flash").inner_text()
        for view, (width, height) in VIEWPORTS.items():
            page.set_viewport_size({"width": width, "height": height})
            page.reload()
            shoot(page, screens_dir / f"settings-{view}.png", whole=True)
            assert_fits(page)
        assert problems == []
    finally:
        context.close()
    [row] = live_site.rows("SELECT display_name, avatar_digest FROM owner")
    assert row["display_name"] == "Ada Lovelace" and row["avatar_digest"]
    return {"digest": row["avatar_digest"]}


@pytest.mark.parametrize("view", list(VIEWPORTS))
def test_the_follow_dialog_sends_the_reader_to_their_server(view: str, offline_chromium,  # noqa: ANN001
                                                            live_site: LiveSite, profile: dict,
                                                            screens_dir: Path) -> None:
    width, height = VIEWPORTS[view]
    context = offline_chromium.new_context(viewport={"width": width, "height": height})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_site.base_url)
    problems: list[str] = []
    try:
        page = context.new_page()
        watch(page, problems)
        page.goto(live_site.url("/"))
        bar = page.locator(".follow-bar")
        assert bar.locator("code").inner_text() == handle(live_site)
        copy = bar.locator("button.copy")
        assert copy.is_visible()  # the script showed it
        copy.click()
        expect(page.locator(".follow-bar .copied")).to_have_text("Copied")
        assert page.evaluate("() => navigator.clipboard.readText()") == handle(live_site)
        shoot(page, screens_dir / f"follow-bar-{view}.png", whole=False)
        assert_fits(page)

        page.click(".follow-bar a.follow-open")
        dialog = page.locator("dialog#follow-dialog")
        assert dialog.is_visible() and dialog.get_attribute("open") is not None
        assert page.evaluate("() => document.activeElement.id") == "follow-dialog-server"
        assert dialog.locator("h2").inner_text() == "Follow Ada Lovelace"
        box = dialog.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width
        shoot(page, screens_dir / f"follow-dialog-{view}.png", whole=False)
        assert_fits(page)

        page.keyboard.press("Escape")  # closes, as a dialog should
        assert not dialog.is_visible()
        page.click(".follow-bar a.follow-open")
        page.fill("#follow-dialog-server", "@me@Mastodon.Social")
        where = urlsplit(sent_to_reader_server(page, lambda: page.keyboard.press("Enter")))
        assert (where.scheme, where.netloc, where.path) == ("https", "mastodon.social", "/authorize_interaction")
        assert parse_qs(where.query) == {"uri": [live_site.url("/actor")]}
        assert problems == []

        page = context.new_page()  # the first one is on Chromium's error page for the unreachable server
        watch(page, problems)
        page.goto(live_site.url("/about"))  # the server typed is offered again next time
        page.click(".follow-bar a.follow-open")
        assert page.input_value("#follow-dialog-server") == "@me@Mastodon.Social"
        assert page.locator(".about-head img.avatar").get_attribute("src") == f"/avatar/{profile['digest']}"
        page.keyboard.press("Escape")
        shoot(page, screens_dir / f"about-{view}.png", whole=True)
        assert_fits(page)
        assert problems == []
    finally:
        context.close()


def test_without_javascript_follow_is_a_page_and_a_plain_form(offline_chromium, live_site: LiveSite,  # noqa: ANN001
                                                              profile: dict, screens_dir: Path) -> None:
    context = offline_chromium.new_context(viewport={"width": 390, "height": 844}, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(live_site.url("/"))
        assert not page.locator(".follow-bar button.copy").is_visible()  # no script: no dead button
        assert page.locator(".follow-bar code").inner_text() == handle(live_site)
        with page.expect_navigation():
            page.click(".follow-bar a.follow-open")
        assert urlsplit(page.url).path == "/follow"
        page.fill("#follow-page-server", "not a server/../x")
        with page.expect_navigation():
            page.click("form.follow-form button[type=submit]")
        assert "is not a server name" in page.locator(".error").inner_text()
        shoot(page, screens_dir / "follow-page-error-phone.png", whole=False)
        assert_fits(page)
        page.fill("#follow-page-server", "fosstodon.org")
        went = sent_to_reader_server(page, lambda: page.click("form.follow-form button[type=submit]"))
        assert went == "https://fosstodon.org/authorize_interaction?uri=" + quote(live_site.url("/actor"), safe="")
    finally:
        context.close()
