"""The calls the linkding browser extension makes, replayed with fetch() in headless Chromium against a real
`linkblog serve`: the connection test, the profile, ``check``, ``tags`` and a create with ``tag_names``, with the
extension's exact URLs, headers and body (its src/linkding.js and popup-form.js).

An extension with host permissions is not subject to CORS, and linkblog sends no CORS headers, so the replay
runs from a page of the site itself (with the page's CSP bypassed: the extension's own page has its own CSP,
not ours). A page of another origin gets nothing: without CORS headers it cannot read an answer, and its
cookie-carrying POST is refused (401) because cookies authenticate nothing here."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.browser.site import LiveSite

pytestmark = pytest.mark.browser

# What the extension's LinkdingApi does, call for call (the URLs, headers and bodies are the facts kept).
EXTENSION_CALLS = """async ({baseUrl, token, url}) => {
  const auth = {Authorization: `Token ${token}`};
  const out = {};
  const connection = await fetch(`${baseUrl}/api/bookmarks/?limit=1`, {headers: auth});
  out.connection = connection.status === 200 && !!(await connection.json()).results;
  const profile = await fetch(`${baseUrl}/api/user/profile/`, {headers: auth});
  out.profile = [profile.status, await profile.json()];
  const check = await fetch(`${baseUrl}/api/bookmarks/check/?url=${encodeURIComponent(url)}`, {headers: auth});
  out.checkBefore = [check.status, await check.json()];
  const tags = await fetch(`${baseUrl}/api/tags/?limit=5000`, {headers: auth});
  out.tags = [tags.status, (await tags.json()).results];
  const bookmark = {url, title: "A page worth keeping", description: "What it says, in short.",
                    notes: "Why I *kept* it.", tag_names: ["reading", "web"], unread: true, shared: true};
  const saved = await fetch(`${baseUrl}/api/bookmarks/?disable_scraping`, {
    method: "POST", headers: {...auth, "Content-Type": "application/json"}, body: JSON.stringify(bookmark)});
  out.saved = [saved.status, await saved.json()];
  const bad = await fetch(`${baseUrl}/api/bookmarks/?disable_scraping`, {
    method: "POST", headers: {...auth, "Content-Type": "application/json"},
    body: JSON.stringify({url: "", tag_names: ["x"]})});
  out.bad = [bad.status, await bad.json()];
  const again = await fetch(`${baseUrl}/api/bookmarks/check/?url=${encodeURIComponent(url)}`, {headers: auth});
  out.checkAfter = [again.status, await again.json()];
  const tagsAfter = await fetch(`${baseUrl}/api/tags/?limit=5000`, {headers: auth});
  out.tagsAfter = (await tagsAfter.json()).results.map(t => t.name);
  return out;
}"""

CROSS_SITE = """async ({baseUrl, token}) => {
  const out = {};
  try {
    await fetch(`${baseUrl}/api/tags/?limit=5000`, {headers: {Authorization: `Token ${token}`}});
    out.read = "answered";
  } catch (e) { out.read = "blocked"; }
  const form = await fetch(`${baseUrl}/api/bookmarks/`, {method: "POST", mode: "no-cors", credentials: "include",
    headers: {"Content-Type": "application/x-www-form-urlencoded"}, body: "url=https%3A%2F%2Fexample.org%2Fcsrf"});
  out.formType = form.type;
  return out;
}"""


def create_token(site: LiveSite, name: str) -> str:
    script = Path(sys.executable).parent / "linkblog"
    result = subprocess.run([str(script), "--config", str(site.directory / "config.toml"), "token", "create", name],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_the_extensions_calls_save_a_normal_bookmark(chromium, live_site: LiveSite, other_site: str) -> None:
    token = create_token(live_site, "linkding-extension")
    url = other_site + "/page.html?case=linkding-extension"
    context = chromium.new_context(bypass_csp=True)
    try:
        page = context.new_page()
        page.goto(live_site.url("/about"))
        out = page.evaluate(EXTENSION_CALLS, {"baseUrl": live_site.base_url, "token": token, "url": url})
    finally:
        context.close()

    assert out["connection"] is True
    assert out["profile"][0] == 200 and out["profile"][1]["enable_sharing"] is True
    status, before = out["checkBefore"]
    assert status == 200 and before["bookmark"] is None and before["metadata"]["url"] == url
    assert out["tags"] == [200, []]
    status, saved = out["saved"]
    assert status == 201, saved
    assert saved["url"] == url and saved["tag_names"] == ["reading", "web"] and saved["shared"] is True
    assert out["bad"] == [400, {"url": ["This field may not be blank."]}]
    status, after = out["checkAfter"]
    assert status == 200 and after["bookmark"]["id"] == saved["id"] and after["bookmark"]["unread"] is True
    assert sorted(out["tagsAfter"]) == ["reading", "web"]

    rows = live_site.rows("SELECT url, title, quote, annotation, tags_text, visibility, toread FROM bookmarks "
                          "WHERE url = ?", url)
    assert [tuple(r) for r in rows] == [(url, "A page worth keeping", "What it says, in short.", "Why I *kept* it.",
                                         "reading web", "public", 1)]


def test_another_sites_page_can_neither_read_nor_write_with_the_owners_cookies(
        owner_context, live_site: LiveSite, other_site: str) -> None:
    token = create_token(live_site, "cross-site-test")
    page = owner_context.new_page()
    page.goto(other_site + "/page.html?case=linkding-cross-site")
    out = page.evaluate(CROSS_SITE, {"baseUrl": live_site.base_url, "token": token})
    assert out == {"read": "blocked", "formType": "opaque"}   # no CORS: the answer stays unreadable
    assert live_site.rows("SELECT id FROM bookmarks WHERE url = 'https://example.org/csrf'") == []
