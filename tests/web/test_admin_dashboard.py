"""The owner's dashboard (/admin/) and the one owner navigation, through the app on both databases: each
"needs attention" item shows exactly when its condition holds, the counts, this week's note, the quick-save
box saving a bookmark, the recent responses, a statement count that does not grow with the rows, and every
owner page carrying the navigation with exactly one current link."""
from __future__ import annotations

import itertools
import re
from datetime import timedelta
from html import unescape
from typing import Any, Callable

import pytest
from sqlalchemy import event, insert, select, update

from linkblog.db import utcnow
from linkblog.federation import delivery
from linkblog.models import (BOOKMARKS, DELIVERIES, FOLLOWERS, FOLLOWING, INTERACTIONS, REMOTE_ACTORS, REMOTE_HOSTS,
                             TAGS, BOOKMARK_TAGS, WORKER_HEALTH)
from linkblog.weeknotes import current_week

from tests.support.app import BASE_URL

ACTIVITY_NUMBERS = itertools.count(1)
ATTENTION = ("attention-worker", "attention-follows", "attention-replies", "attention-retrying", "attention-gave-up", "attention-hosts")


@pytest.fixture(autouse=True)
def worker_running(engine) -> None:  # noqa: ANN001
    """A worker that beat just now, as `linkblog serve` keeps one; a test makes it fall silent when it needs to."""
    with engine.begin() as conn:
        conn.execute(insert(WORKER_HEALTH).values(name="test:1", started_at=utcnow(), beat_at=utcnow()))


def worker_silent(engine) -> None:  # noqa: ANN001
    with engine.begin() as conn:
        conn.execute(update(WORKER_HEALTH).values(beat_at=utcnow() - timedelta(minutes=10)))


def page_of(client) -> str:  # noqa: ANN001
    response = client.get("/admin/")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", "", html)).split())


def attention_items(html: str) -> set[str]:
    return set(re.findall(r'<li class="(attention-[a-z-]+)">', html))


def add_actor(engine, name: str, host: str = "remote.example") -> int:  # noqa: ANN001
    uri = f"https://{host}/users/{name}"
    now = utcnow()
    with engine.begin() as conn:
        return conn.execute(insert(REMOTE_ACTORS).values(
            uri=uri, inbox=f"{uri}/inbox", shared_inbox=f"https://{host}/inbox", handle=f"{name}@{host}",
            display_name=f"{name.title()} Example", url=f"https://{host}/@{name}", created_at=now,
            fetched_at=now).returning(REMOTE_ACTORS.c.id)).scalar_one()


def add(engine, table, **values: Any) -> int:  # noqa: ANN001
    with engine.begin() as conn:
        return conn.execute(insert(table).values(**values).returning(table.c.id)).scalar_one()


def follower(engine, name: str, state: str) -> int:  # noqa: ANN001
    actor = add_actor(engine, name)
    return add(engine, FOLLOWERS, actor_id=actor, follow_uri=f"https://remote.example/follows/{name}", state=state,
               created_at=utcnow())


def followed(engine, name: str, state: str) -> int:  # noqa: ANN001
    actor = add_actor(engine, name)
    return add(engine, FOLLOWING, actor_id=actor, follow_uri=f"{BASE_URL}/activities/follow-{name}", state=state,
               created_at=utcnow())


def interaction(engine, name: str, kind: str, bookmark_id: int, *, state: str = "visible", minutes: int = 0,  # noqa: ANN001
                content: str = "") -> int:
    actor = add_actor(engine, name)
    at = utcnow() - timedelta(minutes=60 - minutes)
    return add(engine, INTERACTIONS, kind=kind, uri=f"https://remote.example/{kind}/{name}", actor_id=actor,
               target_kind="b", target_id=bookmark_id, content_html=content, state=state, published=at,
               updated_at=at, url=f"https://remote.example/@{name}/{kind}")


def one_delivery(engine, **values: Any) -> None:  # noqa: ANN001
    with engine.begin() as conn:
        activity = delivery.queue(conn, uri=f"{BASE_URL}/activities/{next(ACTIVITY_NUMBERS)}", type_="Create",
                                  object_uri=f"{BASE_URL}/bookmarks/1", payload="{}", public=True,
                                  inboxes=["https://peer.example/inbox"])
        if values:
            conn.execute(update(DELIVERIES).where(DELIVERIES.c.activity_id == activity).values(**values))


def host(engine, **values: Any) -> None:  # noqa: ANN001
    with engine.begin() as conn:
        conn.execute(insert(REMOTE_HOSTS).values(**values))


# --- needs attention ---------------------------------------------------------------------------------------


# Each item: what does NOT call for attention (seen first), then what does; the class of its line.
CONDITIONS: dict[str, tuple[Callable, Callable]] = {
    "attention-worker": (lambda e, b: None, lambda e, b: worker_silent(e)),
    "attention-follows": (lambda e, b: follower(e, "accepted", "accepted"),
                          lambda e, b: follower(e, "asking", "pending")),
    "attention-replies": (lambda e, b: interaction(e, "shown", "reply", b, content="<p>Fine</p>"),
                          lambda e, b: interaction(e, "waiting", "reply", b, state="pending", content="<p>Hi</p>")),
    "attention-retrying": (lambda e, b: one_delivery(e),  # queued, never tried: nothing failed yet
                           lambda e, b: one_delivery(e, attempts=2, last_status=503, last_error="busy")),
    "attention-gave-up": (lambda e, b: one_delivery(e, state="gave_up", attempts=16,
                                                    updated_at=utcnow() - timedelta(days=30)),
                          lambda e, b: one_delivery(e, state="gave_up", attempts=16, updated_at=utcnow())),
    "attention-hosts": (lambda e, b: host(e, host="fine.example", last_success_at=utcnow(), unavailable=False),
                        lambda e, b: host(e, host="down.example", failing_since=utcnow(), unavailable=True)),
}


@pytest.mark.parametrize("item", list(CONDITIONS))
def test_each_attention_item_shows_exactly_when_its_condition_holds(owner, engine, make_bookmark, item):
    bookmark = make_bookmark("https://example.org/answered", "Answered")
    calm, alarming = CONDITIONS[item]
    calm(engine, bookmark)
    html = page_of(owner)
    assert attention_items(html) == set()
    assert "Nothing needs your attention" in html
    alarming(engine, bookmark)
    html = page_of(owner)
    assert attention_items(html) == {item}
    assert "Nothing needs your attention" not in html
    line = re.search(rf'<li class="{item}">(.*?)</li>', html, re.S).group(1)
    assert re.search(r'href="/admin/(followers|interactions|deliveries)', line)
    if item == "attention-worker":
        assert "not running" in line and 'class="hint worker-status"' not in html
    else:
        assert re.search(r"\b1 ", text(line))  # says how many
        assert "The federation worker is running" in text(html)


def test_every_attention_item_at_once_with_counts_and_host_names(owner, engine, make_bookmark):
    bookmark = make_bookmark("https://example.org/answered", "Answered")
    for n in range(2):
        follower(engine, f"asking{n}", "pending")
    for n in range(3):
        interaction(engine, f"waiting{n}", "reply", bookmark, state="pending", content="<p>?</p>", minutes=n)
    for n in range(7):
        host(engine, host=f"down{n}.example", failing_since=utcnow(), unavailable=n == 3)
    one_delivery(engine, attempts=1, last_status=500)
    html = page_of(owner)
    assert attention_items(html) == set(ATTENTION) - {"attention-gave-up", "attention-worker"}
    page = text(html)
    assert "2 follow requests to approve or reject" in page and "3 replies awaiting moderation" in page
    assert "7 servers in trouble: down3.example unavailable" in page and "and 2 more" in page


# --- counts, this week, quick save, recent -----------------------------------------------------------------


def test_counts(owner, engine, make_bookmark):
    make_bookmark("https://a.example/", "A", toread=True)
    make_bookmark("https://b.example/", "B", toread=True, visibility="private")
    make_bookmark("https://c.example/", "C")
    for n, state in enumerate(["accepted", "accepted", "accepted", "pending"]):
        follower(engine, f"f{n}", state)
    followed(engine, "g0", "accepted")
    followed(engine, "g1", "pending")
    owner.post("/admin/weeknotes", data={"week": "2026-W10", "csrf_token": owner.csrf})
    stats = dict(re.findall(r'<strong class="stat-([a-z-]+)">(\d+)</strong>', page_of(owner)))
    assert stats == {"bookmarks": "3", "to-read": "2", "weeknotes": "1", "followers": "3", "following": "1"}


def test_no_note_this_week_offers_to_start_one(owner, engine, make_bookmark):
    make_bookmark("https://a.example/", "A")
    html = page_of(owner)
    form = re.search(r'<form method="post" action="/admin/weeknotes".*?</form>', html, re.S).group(0)
    assert 'name="current" value="1"' in form and 'name="csrf_token"' in form
    assert "Start this week's note" in form
    assert "1 public link saved this week" in text(html)
    response = owner.post("/admin/weeknotes", data={"current": "1", "csrf_token": owner.csrf})
    assert response.headers["Location"].endswith(f"/admin/weeknotes/{current_week()}")


def test_this_weeks_draft_with_its_link_count(owner, engine, make_bookmark):
    make_bookmark("https://a.example/", "A")
    make_bookmark("https://b.example/", "B")
    make_bookmark("https://c.example/", "C", visibility="private")  # not in the draft's links
    owner.post("/admin/weeknotes", data={"current": "1", "csrf_token": owner.csrf})
    html = page_of(owner)
    week = current_week()
    assert f'href="/admin/weeknotes/{week}"' in html and "Start this week's note" not in html
    page = text(html)
    assert "2 links in the note" in page and "2 public links saved this week" in page and "draft" in page


def test_quick_save_form_creates_a_bookmark(owner, engine):
    html = page_of(owner)
    form = re.search(r'<form method="post" action="/save" class="quick-save-form">.*?</form>', html, re.S).group(0)
    assert 'name="csrf_token"' in form and 'name="url"' in form and 'type="submit"' in form
    assert re.search(r'<label for="quick-url"', form)
    response = owner.post("/save", data={"url": "https://quick.example/read-me", "tags": "later web", "toread": "1",
                                         "csrf_token": owner.csrf})
    assert response.status_code == 302
    with engine.connect() as conn:
        row = conn.execute(select(BOOKMARKS.c.id, BOOKMARKS.c.url, BOOKMARKS.c.toread, BOOKMARKS.c.visibility)).one()
        tags = set(conn.execute(select(TAGS.c.name).join(BOOKMARK_TAGS, BOOKMARK_TAGS.c.tag_id == TAGS.c.id)).scalars())
    assert row.url == "https://quick.example/read-me" and row.toread and row.visibility == "public"
    assert tags == {"later", "web"}
    assert response.headers["Location"].endswith(f"/bookmarks/{row.id}")
    stats = dict(re.findall(r'<strong class="stat-([a-z-]+)">(\d+)</strong>', page_of(owner)))
    assert stats["bookmarks"] == "1" and stats["to-read"] == "1"


def test_quick_save_of_an_address_already_saved_shows_the_full_form_with_the_error(owner, engine, make_bookmark):
    existing = make_bookmark("https://quick.example/again", "Saved before")
    response = owner.post("/save", data={"url": "https://quick.example/again", "tags": "x", "csrf_token": owner.csrf})
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert 'value="https://quick.example/again"' in html and f"/bookmarks/{existing}/edit" in html
    with engine.connect() as conn:
        assert conn.execute(select(BOOKMARKS.c.id)).scalars().all() == [existing]


def test_a_new_site_says_all_is_well_and_counts_zero(owner):
    html = page_of(owner)
    assert attention_items(html) == set()
    assert "Nothing needs your attention" in html and "No likes, boosts or replies yet" in html
    stats = dict(re.findall(r'<strong class="stat-([a-z-]+)">(\d+)</strong>', html))
    assert stats == {"bookmarks": "0", "to-read": "0", "weeknotes": "0", "followers": "0", "following": "0"}
    assert "0 public links saved this week" in text(html)


def test_quick_save_without_the_csrf_token_saves_nothing(owner, engine):
    response = owner.post("/save", data={"url": "https://quick.example/"})
    assert response.status_code in (400, 403)
    with engine.connect() as conn:
        assert conn.execute(select(BOOKMARKS.c.id)).first() is None


def test_recent_interactions_newest_first_with_links(owner, engine, make_bookmark):
    bookmark = make_bookmark("https://example.org/liked", "Much liked link")
    interaction(engine, "oldest", "like", bookmark, minutes=0)
    for n in range(5):
        interaction(engine, f"fan{n}", ["like", "announce", "reply"][n % 3], bookmark, minutes=n + 1,
                    content=f"<p>Reply number {n}</p>")
    html = page_of(owner)
    section = html[html.index('id="recent-heading"'):html.index('id="counts-heading"')]
    names = re.findall(r">(\w+) Example</a>", section)
    assert names == ["Fan4", "Fan3", "Fan2", "Fan1", "Fan0"]   # five, newest first; the oldest left out
    assert section.count(f'href="/bookmarks/{bookmark}') == 5
    page = text(section)
    assert re.search(r"Fan2 Example replied to Much liked link · \d+ \w+ \d{4} “?Reply number 2", page)
    assert "Fan1 Example boosted Much liked link" in page and "Fan0 Example liked Much liked link" in page
    assert 'href="/admin/interactions"' in section


def _statements(engine, client) -> list[str]:  # noqa: ANN001
    seen: list[str] = []

    def note(conn, cursor, statement, *args: Any) -> None:  # noqa: ANN001
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    try:
        page_of(client)
    finally:
        event.remove(engine, "before_cursor_execute", note)
    return [" ".join(statement.split())[:90] for statement in seen]


def test_dashboard_statements_do_not_grow_with_rows(owner, engine, make_bookmark):
    empty = _statements(engine, owner)
    bookmark = make_bookmark("https://example.org/busy", "Busy")
    for n in range(8):
        make_bookmark(f"https://example.org/more/{n}", f"More {n}", toread=n % 2 == 0)
        follower(engine, f"f{n}", "pending" if n % 2 else "accepted")
        followed(engine, f"g{n}", "accepted")
        interaction(engine, f"i{n}", ["like", "announce", "reply"][n % 3], bookmark, minutes=n,
                    state="pending" if n % 3 == 2 else "visible", content="<p>hm</p>")
        host(engine, host=f"h{n}.example", failing_since=utcnow(), unavailable=n % 2 == 0)
        one_delivery(engine, attempts=n, state="gave_up" if n > 5 else "queued")
    owner.post("/admin/weeknotes", data={"current": "1", "csrf_token": owner.csrf})
    busy = _statements(engine, owner)
    assert len(busy) == len(empty), busy
    # the owner's session, the saved settings, the counts by visibility, the other counts, the servers, this
    # week's note, the responses, the worker's heartbeat, the copies of imported pages, the owner's profile
    # (base.html's icon)
    assert len(busy) <= 10, busy


# --- the owner navigation ----------------------------------------------------------------------------------


def nav_of(html: str) -> str:
    navs = re.findall(r'<nav class="owner-nav" aria-label="Owner pages">.*?</nav>', html, re.S)
    assert len(navs) == 1, f"{len(navs)} owner navigations"
    return navs[0]


OWNER_PAGES = ["/admin/", "/save", "/admin/toread", "/admin/weeknotes", "/admin/tags", "/admin/followers",
               "/admin/following", "/admin/interactions", "/admin/deliveries", "/network", "/admin/import",
               "/admin/tokens", "/bookmarklet", "/admin/account", "/settings/password", "/admin/settings"]


@pytest.mark.parametrize("path", OWNER_PAGES)
def test_every_owner_page_has_the_navigation_with_its_own_link_current(app, owner, path):
    if path == "/admin/settings" and "settings.form" not in app.view_functions:
        pytest.skip("the settings page is not installed on this branch")
    response = owner.get(path)
    assert response.status_code == 200
    nav = nav_of(response.get_data(as_text=True))
    assert re.findall(r'<a href="([^"]+)" aria-current="([^"]+)"', nav) == [(path, "page")]
    assert nav.count("aria-current") == 1
    # every owner page is one click away, grouped under labelled lists
    for other in OWNER_PAGES:
        installed = other != "/admin/settings" or "settings.form" in app.view_functions
        assert (f'href="{other}"' in nav) == installed
    assert len(re.findall(r'<ul aria-labelledby="owner-nav-\d+">', nav)) == 3


def test_pages_below_a_link_mark_it_as_the_current_section(owner, make_bookmark):
    bookmark = make_bookmark("https://example.org/edit-me", "Edit me")
    owner.post("/admin/weeknotes", data={"current": "1", "csrf_token": owner.csrf})
    for path, parent in ((f"/bookmarks/{bookmark}/edit", "/save"),
                         (f"/admin/weeknotes/{current_week()}", "/admin/weeknotes")):
        nav = nav_of(owner.get(path).get_data(as_text=True))
        assert re.findall(r'<a href="([^"]+)" aria-current="([^"]+)"', nav) == [(parent, "true")]


def test_a_re_shown_form_keeps_its_page_current(owner):
    response = owner.post("/admin/tags/rename", data={"old": "nothing", "new": "x", "csrf_token": owner.csrf})
    assert response.status_code == 400
    nav = nav_of(response.get_data(as_text=True))
    assert re.findall(r'aria-current="page"', nav) == ['aria-current="page"']
    assert '<a href="/admin/tags" aria-current="page">' in nav


@pytest.mark.parametrize("path", ["/", "/weeknotes/", "/tags/", "/search?q=x", "/save?popup=1&url=https://a.example/"])
def test_no_owner_navigation_on_public_pages_or_in_the_bookmarklet_window(owner, client, path):
    assert 'class="owner-nav"' not in owner.get(path).get_data(as_text=True)
    assert 'class="owner-nav"' not in client.get("/bookmarklet").get_data(as_text=True)  # a reader
