"""Screenshots of the main pages at phone and desktop widths (and in the bookmarklet's window), with the
checks a person would otherwise make by eye: nothing wider than the screen, no console errors (CSP
violations show up there), the headings in place.

The PNGs go to a temporary folder (paths printed; see them with ``-s``); set LINKBLOG_KEEP_SCREENS=1 to
also copy them to bench/out/screens/."""
from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote as q

import pytest

from linkblog import bookmarks
from linkblog.db import make_engine, utcnow
from linkblog.markup import render_markdown
from linkblog.web.bookmarklet import WINDOW_FEATURES
from linkblog.weeknotes import current_week

from tests.browser.screens import assert_fits, shoot, watch_errors
from tests.browser.site import LiveSite

pytestmark = pytest.mark.browser

LONG_URL = ("https://www.example.org/research/2024/proceedings/volume-17/issue-4/a-remarkably-long-path-segment-"
            "that-keeps-going-without-any-break/index.html?session=a8f3c2d1e4b5a6978877&ref=newsletter&page=3")
LONG_WORD = "Donaudampfschifffahrtselektrizitätenhauptbetriebswerkbauunterbeamtengesellschaft"
WEEKNOTE_TITLE = "Week of slow software and long words"
WEEKNOTE_BODY = f"""A quieter week. I read about **waiting**, and about why programs feel slow.

## Links

- [Slow software](<https://example.com/slow>) — every second counts
- [{LONG_WORD}](<https://example.de/words>)
- <{LONG_URL}>

## Code

```
$ linkblog init --dir instance --base-url https://links.example.org && linkblog --config instance/config.toml serve
```

> Not everything that can be counted counts.
"""

SEED = [
    dict(url="https://example.com/slow", title="Slow software",
         quote="Every second a program makes you wait is a second you spend wondering whether it works.",
         annotation="Worth re-reading every year. The part about **progress bars** is the best:\n\n"
                    "- show progress\n- never lie about it\n\nSee also `time.monotonic()`.",
         tags="software performance ux"),
    dict(url="https://example.de/words", title=f"{LONG_WORD} and other words that never end",
         annotation=f"German compounds like {LONG_WORD} break naive layouts.", tags="language typography"),
    dict(url=LONG_URL, title="", annotation="Saved with no title: the address is the title.", tags="research"),
    dict(url="https://example.net/private-thing", title="Only for me", annotation="A private note.",
         tags="notes", visibility="private"),
    dict(url="https://example.org/short", title="A short one", tags="misc"),
]


@pytest.fixture(scope="module")
def seeded(live_site: LiveSite) -> dict[str, object]:
    """A few bookmarks and a published weeknote, written into the running instance's database."""
    engine = make_engine(f"sqlite:///{live_site.database}")
    start = utcnow() - timedelta(hours=len(SEED))
    ids = []
    with engine.begin() as conn:
        for n, fields in enumerate(SEED):
            item = bookmarks.validate({"visibility": "public", **fields})
            ids.append(bookmarks.create(conn, item, created_at=start + timedelta(hours=n)))
    engine.dispose()
    week = current_week()
    now = utcnow().strftime("%Y-%m-%d %H:%M:%S.%f")  # as SQLAlchemy stores DateTime in SQLite
    with sqlite3.connect(live_site.database) as conn:
        conn.execute("INSERT INTO weeknotes (week, title, body, body_html, status, visibility, created_at, "
                     "updated_at, published_at) VALUES (?, ?, ?, ?, 'published', 'public', ?, ?, ?)",
                     (week, WEEKNOTE_TITLE, WEEKNOTE_BODY, render_markdown(WEEKNOTE_BODY), now, now, now))
    return {"quoted": ids[0], "week": week}


POPUP_FORM = ("/save?popup=1&url=" + q("https://example.com/new-article?id=42", safe="") + "&title="
              + q(f"A new article about {LONG_WORD}", safe="") + "&quote="
              + q("A sentence worth keeping, selected on the page.", safe=""))
LOGIN_IN_POPUP = "/login?next=" + q(POPUP_FORM, safe="")

# name, path, logged in as the owner, the h1's text (None: present but visually hidden)
PAGES = {
    "home": ("/", False, None),
    "home-owner": ("/", True, None),
    "permalink": ("/bookmarks/{quoted}", True, "Slow software"),
    "weeknote": ("/weeknotes/{week}", False, WEEKNOTE_TITLE),
    "bookmarklet": ("/bookmarklet", True, "Bookmarklet"),
    "popup-login": (LOGIN_IN_POPUP, False, "Log in"),
    "popup-form": (POPUP_FORM, True, "Save a link"),
    # The form of a saved bookmark, sent unchanged: the window's last page, without changing the data.
    "popup-saved": ("/bookmarks/{quoted}/edit?popup=1", True, "Nothing changed."),
}
WINDOW = dict(part.split("=") for part in WINDOW_FEATURES.split(","))  # the bookmarklet's window.open size
VIEWPORTS = {"phone": (390, 844, "light"), "desktop": (1280, 900, "light"), "phone-dark": (390, 844, "dark"),
             "window": (int(WINDOW["width"]), int(WINDOW["height"]), "light")}
CASES = ([(page, view) for page in PAGES if not page.startswith("popup-") for view in ("phone", "desktop")]
         + [("popup-form", "phone"), ("popup-form", "desktop")]
         + [(page, "window") for page in ("popup-login", "popup-form", "popup-saved")]
         + [(page, "phone-dark") for page in ("home-owner", "permalink")])


@pytest.fixture(scope="module")
def screens_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("screens")


@pytest.mark.parametrize(("name", "view"), CASES)
def test_page_looks_right(name: str, view: str, chromium, live_site: LiveSite, seeded: dict,  # noqa: ANN001
                          owner_state: dict, screens_dir: Path) -> None:
    path, as_owner, heading = PAGES[name]
    width, height, scheme = VIEWPORTS[view]
    context = chromium.new_context(viewport={"width": width, "height": height}, color_scheme=scheme,
                                   storage_state=owner_state if as_owner else None)
    try:
        page = context.new_page()
        problems = watch_errors(page)
        response = page.goto(live_site.url(path.format(**seeded)))
        assert response is not None and response.status == 200
        if name == "popup-saved":
            with page.expect_navigation():
                page.click(".bookmark-form button[type=submit]")

        shoot(page, screens_dir / f"{name}-{view}.png")
        assert_fits(page)
        assert problems == []
        h1 = page.locator("h1")
        assert h1.count() == 1
        if heading is None:
            assert (h1.text_content() or "").strip()
            assert page.locator("main h2").count() >= 3  # the entries' titles
        else:
            assert h1.is_visible() and (h1.text_content() or "").strip() == heading
    finally:
        context.close()
