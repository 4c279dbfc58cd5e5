"""The bookmarklet end to end in headless Chromium: it runs on a page of another site (another origin),
opens the save form in a small window, goes through the login when needed, and the window closes itself
after saving."""
from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.browser.bookmarklet import bookmarklet_js, run_bookmarklet, save_and_wait_for_close, select_text
from tests.browser.site import LiveSite, log_in

pytestmark = pytest.mark.browser

SENTENCE = "Every second a program makes you wait is a second you spend wondering whether it works."
PAGE_TITLE = "Slow software & the “art” of waiting"


def test_bookmarklet_logs_in_saves_the_selection_and_later_reopens_the_same_bookmark(
        context, live_site: LiveSite, other_site: str) -> None:
    js = bookmarklet_js(context, live_site)
    page_url = other_site + "/page.html?case=first"
    page = context.new_page()
    page.goto(page_url)
    select_text(page, "#sentence")

    popup = run_bookmarklet(page, js)
    assert urlsplit(popup.url).path == "/login"
    assert popup.is_visible("#password")
    log_in(popup, live_site)
    assert urlsplit(popup.url).path == "/save"
    assert popup.input_value("#url") == page_url
    assert popup.input_value("#title") == PAGE_TITLE
    assert popup.input_value("#quote") == SENTENCE
    popup.fill("#tags", "software, waiting")
    popup.fill("#annotation", "Worth *remembering* when building anything.")
    assert save_and_wait_for_close(popup) == "Saved."

    rows = live_site.rows("SELECT id, url, title, quote, annotation, tags_text FROM bookmarks")
    assert len(rows) == 1
    first = rows[0]
    assert (first["url"], first["title"], first["quote"]) == (page_url, PAGE_TITLE, SENTENCE)
    assert first["annotation"] == "Worth *remembering* when building anything."
    assert sorted(first["tags_text"].split()) == ["software", "waiting"]

    # Logged in now (same browser profile): the second run goes straight to that bookmark, not a new one.
    popup = run_bookmarklet(page, js)
    assert urlsplit(popup.url).path == "/save"
    assert "You saved this page on" in (popup.text_content(".notice") or "")
    assert popup.input_value("#annotation") == "Worth *remembering* when building anything."
    assert popup.input_value("#quote") == SENTENCE
    popup.fill("#annotation", "Changed my mind about the note.")
    assert save_and_wait_for_close(popup) == "Saved."

    rows = live_site.rows("SELECT id, annotation FROM bookmarks WHERE url = ?", page_url)
    assert [(r["id"], r["annotation"]) for r in rows] == [(first["id"], "Changed my mind about the note.")]


def test_a_long_selection_is_shortened_so_the_login_redirect_still_works(
        context, live_site: LiveSite, other_site: str) -> None:
    js = bookmarklet_js(context, live_site)
    page = context.new_page()
    page.goto(other_site + "/page.html?case=long")
    text = page.evaluate("""() => {
        const p = document.createElement('p');
        p.id = 'long';
        p.textContent = Array.from({length: 700}, (_, i) => 'wörd' + i + ' «ünïcode»').join(' ');
        document.body.append(p);
        return p.textContent;
    }""")
    select_text(page, "#long")

    popup = run_bookmarklet(page, js)
    assert urlsplit(popup.url).path == "/login", popup.content()[:500]
    log_in(popup, live_site)
    quote = popup.input_value("#quote")
    assert 200 < len(quote) < len(text)
    assert text.startswith(quote) and text[len(quote)] == " "  # cut at a word boundary


def test_form_offers_the_existing_tags_and_a_click_adds_one(owner_context, live_site: LiveSite) -> None:
    page = owner_context.new_page()
    page.goto(live_site.url("/save?url=https%3A%2F%2Fexample.org%2Ftagged&title=Tagged"))
    page.fill("#tags", "python web")
    with page.expect_navigation():
        page.click(".bookmark-form button[type=submit]")
    assert urlsplit(page.url).path.startswith("/bookmarks/")

    page.goto(live_site.url("/save?popup=1&url=https%3A%2F%2Fexample.org%2Fnext&title=Next"))
    options = page.eval_on_selector_all("#known-tags option", "els => els.map(e => e.value)")
    assert {"python", "web"} <= set(options)
    assert page.get_attribute("#tags", "list") == "known-tags"
    page.click(".tag-chip[data-tag=web]")
    page.click(".tag-chip[data-tag=python]")
    page.click(".tag-chip[data-tag=web]")  # twice: still once in the field
    assert page.input_value("#tags").split() == ["web", "python"]


def test_without_a_popup_the_form_opens_in_the_tab_and_leads_to_the_permalink(
        owner_context, live_site: LiveSite, other_site: str) -> None:
    js = bookmarklet_js(owner_context, live_site)
    page_url = other_site + "/page.html?case=blocked"
    page = owner_context.new_page()
    page.goto(page_url)
    page.evaluate("() => { window.open = () => null; }")  # what a popup blocker does
    select_text(page, "#sentence")
    with page.expect_navigation():
        page.evaluate(js)
    assert page.url.startswith(live_site.url("/save?"))
    assert page.input_value("#url") == page_url
    assert page.input_value("#quote") == SENTENCE
    with page.expect_navigation():
        page.click(".bookmark-form button[type=submit]")
    assert urlsplit(page.url).path.startswith("/bookmarks/")
    assert "Saved." in (page.text_content(".flash") or "")
    assert len(live_site.rows("SELECT id FROM bookmarks WHERE url = ?", page_url)) == 1


def test_a_form_posted_from_another_site_is_rejected(owner_context, live_site: LiveSite, other_site: str) -> None:
    page = owner_context.new_page()
    page.goto(other_site + "/page.html?case=csrf")
    with page.expect_navigation() as navigation:
        page.evaluate("""action => {
            const form = document.createElement('form');
            form.method = 'post';
            form.action = action;
            for (const [name, value] of [['url', 'https://evil.example/planted'], ['title', 'Planted'],
                                         ['tags', 'planted'], ['visibility', 'public']]) {
                const input = document.createElement('input');
                input.type = 'hidden'; input.name = name; input.value = value;
                form.append(input);
            }
            document.body.append(form);
            form.submit();
        }""", live_site.url("/save"))
    assert navigation.value.status == 400
    assert "CSRF" in (page.text_content("main") or "")
    assert live_site.rows("SELECT id FROM bookmarks WHERE url LIKE 'https://evil.example/%'") == []
