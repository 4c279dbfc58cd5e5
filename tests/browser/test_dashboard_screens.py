"""The owner's dashboard and the owner navigation in Chromium at phone and desktop widths, with something in
every section (a draft for this week, a follow request, a reply to moderate, a server marked unavailable,
responses): nothing wider than the screen, no console errors (CSP violations show up there), one current
link in the navigation, and the quick-save box saving a link without JavaScript.

The PNGs go to a temporary folder (paths printed; see them with ``-s``); set LINKBLOG_KEEP_SCREENS=1 to
also copy them to bench/out/screens/."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert

from linkblog import bookmarks, weeknotes
from linkblog.db import make_engine, utcnow
from linkblog.models import FOLLOWERS, INTERACTIONS, REMOTE_ACTORS, REMOTE_HOSTS

from tests.browser.screens import assert_fits, shoot, watch_errors
from tests.browser.site import LiveSite

pytestmark = pytest.mark.browser

LONG_HOST = "a-very-long-host-name-for-a-fediverse-server-that-never-seems-to-end.example"
VIEWPORTS = {"phone": (390, 844, "light"), "desktop": (1280, 900, "light"), "phone-dark": (390, 844, "dark")}
PAGES = {"dashboard": "/admin/", "followers": "/admin/followers", "deliveries": "/admin/deliveries"}


@pytest.fixture(scope="module")
def seeded(live_site: LiveSite) -> str:
    """Bookmarks, this week's draft, people and responses, written into the running instance's database."""
    engine = make_engine(f"sqlite:///{live_site.database}")
    now = utcnow()
    tz = "UTC"
    week = weeknotes.current_week(tz)
    with engine.begin() as conn:
        ids = []
        for n, (url, title) in enumerate([
                ("https://example.com/slow", "Slow software"),
                ("https://example.de/words", "Donaudampfschifffahrtselektrizitätenhauptbetriebswerkbauunterbeamten"
                                             "gesellschaft and other words that never end"),
                ("https://example.org/short", "A short one")]):
            item = bookmarks.validate({"url": url, "title": title, "visibility": "public", "tags": "reading",
                                       "toread": n == 1})
            ids.append(bookmarks.create(conn, item, created_at=now - timedelta(minutes=30 - n)))
        weeknotes.create_draft(conn, week, tz, "Links this week")
        actors = []
        for name, host in [("alice", "mastodon.example"), ("bob", LONG_HOST), ("carol", "social.example"),
                           ("dave", "mastodon.example")]:
            uri = f"https://{host}/users/{name}"
            actors.append(conn.execute(insert(REMOTE_ACTORS).values(
                uri=uri, inbox=f"{uri}/inbox", shared_inbox=f"https://{host}/inbox", handle=f"{name}@{host}",
                display_name=f"{name.title()} Example", url=f"https://{host}/@{name}", created_at=now,
                fetched_at=now).returning(REMOTE_ACTORS.c.id)).scalar_one())
        conn.execute(insert(FOLLOWERS).values(actor_id=actors[0], follow_uri="https://mastodon.example/f/1",
                                              state="accepted", created_at=now))
        conn.execute(insert(FOLLOWERS).values(actor_id=actors[1], follow_uri=f"https://{LONG_HOST}/f/2",
                                              state="pending", created_at=now))
        for n, (actor, kind, state, content) in enumerate([
                (actors[0], "like", "visible", ""), (actors[2], "announce", "visible", ""),
                (actors[3], "reply", "pending", "<p>Lovely find! Have you read the follow-up piece about "
                                                "progress bars that lie? It changed how I build them.</p>")]):
            at = now - timedelta(minutes=10 - n)
            conn.execute(insert(INTERACTIONS).values(
                kind=kind, uri=f"https://remote.example/{kind}/{n}", actor_id=actor, target_kind="b",
                target_id=ids[n % 2], content_html=content, state=state, published=at, updated_at=at,
                url=f"https://remote.example/@x/{n}"))
        conn.execute(insert(REMOTE_HOSTS).values(host=LONG_HOST, failing_since=now - timedelta(days=2),
                                                 unavailable=True))
    engine.dispose()
    return week


@pytest.fixture(scope="module")
def screens_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("dashboard-screens")


@pytest.mark.parametrize("name", list(PAGES))
@pytest.mark.parametrize("view", list(VIEWPORTS))
def test_owner_pages_look_right(name: str, view: str, chromium, live_site: LiveSite, seeded: str,  # noqa: ANN001
                                owner_state: dict, screens_dir: Path) -> None:
    width, height, scheme = VIEWPORTS[view]
    context = chromium.new_context(viewport={"width": width, "height": height}, color_scheme=scheme,
                                   storage_state=owner_state)
    try:
        page = context.new_page()
        problems = watch_errors(page)
        response = page.goto(live_site.url(PAGES[name]))
        assert response is not None and response.status == 200
        shoot(page, screens_dir / f"owner-{name}-{view}.png")
        assert_fits(page)
        assert problems == []
        nav = page.get_by_role("navigation", name="Owner pages")
        assert nav.is_visible()
        current = nav.locator("[aria-current=page]")
        assert current.count() == 1 and current.get_attribute("href") == PAGES[name]
        if name == "dashboard":
            for heading in ("Save a link", "This week", "Needs attention", "Recent interactions", "Counts"):
                assert page.get_by_role("heading", name=heading).is_visible()
            attention = page.locator(".attention-list")
            assert "1 follow request" in attention.inner_text() and LONG_HOST in attention.inner_text()
            assert page.get_by_role("link", name="Edit this week's note").get_attribute("href") == \
                f"/admin/weeknotes/{seeded}"
            # every link of the navigation can be reached (nothing clipped off-screen)
            for link in nav.get_by_role("link").all():
                box = link.bounding_box()
                assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width
    finally:
        context.close()


def test_quick_save_without_javascript(chromium, live_site: LiveSite, seeded: str, owner_state: dict) -> None:
    context = chromium.new_context(viewport={"width": 390, "height": 844}, storage_state=owner_state,
                                   java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(live_site.url("/admin/"))
        page.get_by_label("Address of the page to save").fill("https://quick.example/a-page-to-read")
        page.get_by_label("Tags").fill("later")
        page.get_by_label("To read").check()
        with page.expect_navigation():
            page.get_by_role("button", name="Save", exact=True).click()
        assert "/bookmarks/" in page.url
        rows = live_site.rows("SELECT url, toread FROM bookmarks WHERE url = ?", "https://quick.example/a-page-to-read")
        assert [tuple(r) for r in rows] == [("https://quick.example/a-page-to-read", 1)]
    finally:
        context.close()
