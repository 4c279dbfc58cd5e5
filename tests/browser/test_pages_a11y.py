"""The pages of issue 10's "Done when", at 390 px and 1280 px (and the bookmarklet's window size), on a
seeded site: bookmarks with tags, annotations and quotes (one link gone and one moved, for /admin/links and
the "link gone" marks of issue 11), a published weeknote, a reply and a like, a
followed account's post on /network (and the Follow dialog open over the home page). Each page is
screenshot and checked for what a person would see by eye (nothing wider than the screen, no console errors:
CSP violations show up there), then axe-core (from npm, tests/browser/package.json; ``npm ci --prefix
tests/browser``) is run in it and must report no serious or critical violation.

The same pages in the dark scheme at 390 px go through the same checks (its colours are other colours).

The PNGs go to a temporary folder (paths printed; see them with ``-s``); set LINKBLOG_KEEP_SCREENS=1 to
also copy them to bench/out/screens/."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from urllib.parse import quote as q

import pytest
from sqlalchemy import insert, update

from linkblog import bookmarks
from linkblog.db import make_engine, utcnow
from linkblog.links import copies
from linkblog.markup import render_markdown
from linkblog.models import (
    FOLLOWING,
    INTERACTIONS,
    LINK_CHECKS,
    PAGE_COPIES,
    REMOTE_ACTORS,
    REMOTE_POSTS,
    WEEKNOTES,
)
from linkblog.states import FollowState, InteractionState, Visibility, WeeknoteStatus
from linkblog.web.bookmarklet import WINDOW_FEATURES
from linkblog.weeknotes import current_week
from tests.browser.screens import assert_fits, shoot, watch_errors
from tests.browser.site import LiveSite

pytestmark = pytest.mark.browser

HERE = Path(__file__).parent
AXE = HERE / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")

SEED = [
    dict(url="https://example.com/slow", title="Slow software",
         quote="Every second a program makes you wait is a second you spend wondering whether it works.",
         annotation="Worth re-reading every year. The part about **progress bars** is the best:\n\n"
                    "- show progress\n- never lie about it\n\nSee also `time.monotonic()`.",
         tags="software performance ux"),
    dict(url="https://example.org/typography", title="Line length and reading",
         quote="Sixty-six characters is widely regarded as the ideal line.",
         annotation="A *calm* page is one you can read for an hour.", tags="typography design"),
    dict(url="https://example.net/queues", title="Queues don't fix overload",
         annotation="Backpressure, again. Short and right.", tags="software queues"),
    dict(url="https://example.org/to-read", title="A long read for the weekend", tags="toread",
         visibility=Visibility.UNLISTED),
]
WEEKNOTE_TITLE = "A week of slow software"
WEEKNOTE_BODY = """A quieter week. I read about **waiting**, and about why programs feel slow.

- [Slow software](<https://example.com/slow>): every second counts
- [Line length and reading](<https://example.org/typography>)

> Not everything that can be counted counts.
"""
FRIEND = "https://social.example/users/grace"


@pytest.fixture(scope="module")
def seeded(live_site: LiveSite) -> dict[str, object]:
    """Bookmarks, a published weeknote, a reply and a like on the first bookmark from a followed account,
    and that account's post for /network: written into the running instance's database."""
    engine = make_engine(f"sqlite:///{live_site.database}")
    now = utcnow()
    start = now - timedelta(hours=len(SEED))
    ids = []
    week = current_week()
    with engine.begin() as conn:
        for n, fields in enumerate(SEED):
            item = bookmarks.validate({"visibility": "public", **fields})
            ids.append(bookmarks.create(conn, item, created_at=start + timedelta(hours=n)))
        conn.execute(insert(WEEKNOTES).values(
            week=week, title=WEEKNOTE_TITLE, body=WEEKNOTE_BODY, body_html=render_markdown(WEEKNOTE_BODY),
            status=WeeknoteStatus.PUBLISHED, visibility=Visibility.PUBLIC, created_at=now, updated_at=now,
            published_at=now))
        actor = conn.execute(insert(REMOTE_ACTORS).values(
            uri=FRIEND, inbox=FRIEND + "/inbox", handle="grace@social.example", display_name="Grace Hopper",
            url="https://social.example/@grace")).inserted_primary_key[0]
        conn.execute(insert(FOLLOWING).values(actor_id=actor, follow_uri=FRIEND + "#follow-1",
                                              state=FollowState.ACCEPTED))
        conn.execute(insert(INTERACTIONS).values(
            kind="reply", uri=FRIEND + "/statuses/1", actor_id=actor, target_kind="b", target_id=ids[0],
            content_html="<p>Progress bars that lie are the worst kind. Thanks for the link!</p>",
            url="https://social.example/@grace/1", state=InteractionState.VISIBLE, published=now))
        conn.execute(insert(INTERACTIONS).values(
            kind="like", uri=FRIEND + "/likes/1", actor_id=actor, target_kind="b", target_id=ids[0],
            state=InteractionState.VISIBLE, published=now))
        copies.queue(conn, ids[0], "https://example.com/quoted")  # a kept copy, as the worker leaves one
        conn.execute(update(PAGE_COPIES).where(PAGE_COPIES.c.bookmark_id == ids[0]).values(
            state="done", status=200, final_url="https://example.com/quoted", title="The quoted article",
            description="What the page says it is about, in one sentence.", site_name="Example", fetched_at=now,
            html_z=copies.compress(COPY_HTML), text="A saved page"))
        conn.execute(insert(REMOTE_POSTS).values(
            uri=FRIEND + "/statuses/2", actor_id=actor, link_url="https://example.com/compilers",
            title="How the first compiler came about",
            content_html="<p>A good history of the A-0 system. "
                         "<a href=\"https://example.com/compilers\">example.com/compilers</a></p>",
            url="https://social.example/@grace/2", published=now))
        # link health: one link gone (it is also in the weeknote, which shows its fallback), one moved
        conn.execute(insert(LINK_CHECKS).values(
            bookmark_id=ids[1], state="gone", state_since=now, checked_at=now, next_check_at=now + timedelta(days=30),
            last_status=404, reason="HTTP 404"))
        conn.execute(insert(LINK_CHECKS).values(
            bookmark_id=ids[2], state="redirected", state_since=now - timedelta(days=2), checked_at=now,
            next_check_at=now + timedelta(days=30), last_status=200, redirect_url="https://example.net/queues-2",
            reason="Moved permanently to https://example.net/queues-2"))
    engine.dispose()
    return {"quoted": ids[0], "week": week}


COPY_HTML = ("<h2>The quoted article</h2><p>A saved page keeps its text, its headings and "
             "<a href=\"https://example.com/elsewhere\" rel=\"noopener nofollow ugc\">its links</a>, and nothing else."
             "</p><h3>A long table</h3><table><tr>" + "".join(f"<td>cell-{n}-with-a-long-word</td>" for n in range(12))
             + "</tr></table><pre>a preformatted line that is far too long to fit a phone's screen at all, really</pre>")

POPUP = ("/save?popup=1&url=" + q("https://example.com/new-article?id=42", safe="") + "&title="
         + q("A new article about accessible forms", safe="") + "&quote="
         + q("A sentence worth keeping, selected on the page.", safe=""))

# The bookmarklet on a page already saved with another quote: the window offers the new selection.
POPUP_SAVED = ("/save?popup=1&url=" + q("https://example.com/slow", safe="") + "&title=Slow%20software&quote="
               + q("Progress bars should never lie.", safe=""))

# name: (path, logged in as the owner); OPEN_FIRST: what to click before looking (a dialog's opener)
PAGES = {
    "home": ("/", False),
    "follow-dialog": ("/", False),
    "home-owner": ("/", True),
    "permalink": ("/bookmarks/{quoted}", False),
    "weeknote": ("/weeknotes/{week}", False),
    "weeknote-editor": ("/admin/weeknotes/{week}", True),
    "dashboard": ("/admin/", True),
    "settings": ("/admin/settings", True),
    "link-health": ("/admin/links", True),
    "copy": ("/bookmarks/{quoted}/copy", True),
    "edit": ("/bookmarks/{quoted}/edit", True),
    "network": ("/network", True),
    "search": ("/search?q=software", True),
    "bookmarklet-window": (POPUP, True),
    "bookmarklet-window-saved": (POPUP_SAVED, True),
}
OPEN_FIRST = {"follow-dialog": ".follow-bar a.follow-open"}
WINDOW = dict(part.split("=") for part in WINDOW_FEATURES.split(","))  # the bookmarklet's window.open size
VIEWPORTS = {"390": (390, 844, "light"), "1280": (1280, 900, "light"),
             "window": (int(WINDOW["width"]), int(WINDOW["height"]), "light"),
             "390-dark": (390, 844, "dark")}  # the dark scheme's colours go through axe's contrast check too
CASES = ([(page, view) for page in PAGES for view in ("390", "1280", "390-dark")]
         + [("bookmarklet-window", "window"), ("bookmarklet-window-saved", "window")])


@pytest.fixture(scope="module")
def screens_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("a11y-screens")


@pytest.fixture(scope="module")
def axe_script() -> Path:
    if not AXE.exists():
        pytest.fail(f"no axe-core at {AXE}: run `npm ci --prefix tests/browser` (tests/run.sh does this for you)")
    return AXE


def axe_violations(page) -> list[dict]:  # noqa: ANN001
    """axe-core's violations in the page as it is now (its default rules: WCAG 2.x A and AA and best
    practices). Fails if axe passed almost nothing: then it did not really look at the page."""
    found = page.evaluate("""async () => {
        const result = await axe.run(document, {resultTypes: ["violations"]});
        return {passed: result.passes.length,
                violations: result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                    nodes: v.nodes.map(n => ({target: n.target.join(" "), impact: n.impact,
                                              summary: n.failureSummary}))}))};
    }""")
    assert found["passed"] >= 10, f"axe-core checked almost nothing: {found}"
    return found["violations"]


def describe(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']}")
        for node in v["nodes"][:8]:
            summary = " ".join((node["summary"] or "").split())[:300]
            lines.append(f"    {node['target']}: {summary}")
    return "\n".join(lines)


@pytest.mark.parametrize(("name", "view"), CASES)
def test_page_fits_and_is_accessible(name: str, view: str, chromium, live_site: LiveSite,  # noqa: ANN001
                                     seeded: dict, owner_state: dict, screens_dir: Path,
                                     axe_script: Path) -> None:
    path, as_owner = PAGES[name]
    url = live_site.url(path.format(**seeded))
    width, height, scheme = VIEWPORTS[view]
    state = owner_state if as_owner else None

    # First pass: the page as readers get it, under our CSP, so a CSP violation is a console error.
    context = chromium.new_context(viewport={"width": width, "height": height}, color_scheme=scheme,
                                   storage_state=state)
    try:
        page = context.new_page()
        problems = watch_errors(page)
        response = page.goto(url)
        assert response is not None and response.status == 200, f"{url}: {response and response.status}"
        page.wait_for_load_state("load")
        if name in OPEN_FIRST:
            page.click(OPEN_FIRST[name])
            page.wait_for_selector("dialog[open]")
        shoot(page, screens_dir / f"a11y-{name}-{view}.png", whole=name not in OPEN_FIRST)  # a modal: the viewport
        assert_fits(page)
        assert problems == [], f"{name} at {view}: {problems}"
    finally:
        context.close()

    # Second pass: axe-core. Our CSP (script-src 'self') would refuse the injected checker, so this context
    # bypasses CSP; that is why the first pass, not this one, is where CSP problems are caught.
    context = chromium.new_context(viewport={"width": width, "height": height}, color_scheme=scheme,
                                   storage_state=state, bypass_csp=True)
    try:
        page = context.new_page()
        page.goto(url)
        if name in OPEN_FIRST:
            page.click(OPEN_FIRST[name])
            page.wait_for_selector("dialog[open]")
        page.add_script_tag(path=str(axe_script))
        violations = axe_violations(page)
    finally:
        context.close()
    blocking = [v for v in violations if v["impact"] in BLOCKING]
    minor = [v for v in violations if v["impact"] not in BLOCKING]
    if minor:
        print(f"{name} at {view}: minor axe findings:\n{describe(minor)}")
    assert blocking == [], f"{name} at {view}: axe-core found serious or critical violations:\n{describe(blocking)}"
