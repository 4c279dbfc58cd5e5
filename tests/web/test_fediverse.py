"""The owner's fediverse pages and the responses under items, through the app on both databases, with
rows inserted directly: access, CSRF, what each button changes and queues, the network page and its
Save link, via credit, and the query count of an item page."""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import event, func, insert, select, update

from linkblog.federation import delivery
from linkblog.queries import fediverse as fediverse_reads
from linkblog.models import (
    BlockedActor, Bookmark, Delivery, Follower, Following, Interaction, OutboxActivity, RemoteActor, RemoteHost,
    RemotePost, Weeknote,
)

from tests.support.app import BASE_URL, csrf_of

A, F, FG, BA = RemoteActor.__table__, Follower.__table__, Following.__table__, BlockedActor.__table__
I, P, O, D, H = (Interaction.__table__, RemotePost.__table__, OutboxActivity.__table__, Delivery.__table__,
                 RemoteHost.__table__)
B, W = Bookmark.__table__, Weeknote.__table__
T0 = datetime(2026, 3, 2, 9, 0, 0)
WEEK = "2026-W10"
ACTOR = f"{BASE_URL}/actor"
GETS = ["/admin/following", "/admin/followers", "/admin/interactions", "/admin/deliveries", "/network"]


# --- rows ----------------------------------------------------------------------------------------------


def add_actor(engine, name: str, host: str = "remote.example") -> int:
    uri = f"https://{host}/users/{name}"
    with engine.begin() as conn:
        return conn.execute(insert(A).values(
            uri=uri, inbox=f"{uri}/inbox", shared_inbox=f"https://{host}/inbox", handle=f"{name}@{host}",
            display_name=f"{name.title()} Example", url=f"https://{host}/@{name}", created_at=T0,
            fetched_at=T0).returning(A.c.id)).scalar_one()


def add(engine, table, **values: Any) -> int:
    with engine.begin() as conn:
        return conn.execute(insert(table).values(**values).returning(table.c.id)).scalar_one()


def add_follower(engine, actor_id: int, state: str = "accepted") -> int:
    return add(engine, F, actor_id=actor_id, follow_uri=f"https://remote.example/follows/{actor_id}", state=state,
               created_at=T0)


def add_weeknote(engine) -> int:
    return add(engine, W, week=WEEK, title="Week ten", body="", body_html="<p>What happened.</p>",
               status="published", visibility="public", created_at=T0, updated_at=T0, published_at=T0)


def add_interaction(engine, kind: str, actor_id: int, target: tuple[str, int], *, n: int = 0,
                    state: str = "visible", content: str = "", in_reply_to: str | None = None,
                    uri: str | None = None) -> int:
    return add(engine, I, kind=kind, uri=uri or f"https://remote.example/{kind}/{actor_id}/{n}",
               actor_id=actor_id, target_kind=target[0], target_id=target[1], content_html=content,
               in_reply_to=in_reply_to, state=state, published=T0 + timedelta(minutes=n), updated_at=T0)


def count(engine, table, *where: Any) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()


def queued(engine) -> list[tuple[dict, list[str]]]:
    """Every queued activity's JSON and the inboxes it goes to."""
    with engine.connect() as conn:
        rows = conn.execute(select(O.c.id, O.c.payload).order_by(O.c.id)).all()
        return [(json.loads(p), sorted(conn.execute(select(D.c.inbox).where(D.c.activity_id == i)).scalars()))
                for i, p in rows]


def snapshot(engine) -> dict[str, list]:
    with engine.connect() as conn:
        return {t.name: [tuple(r) for r in conn.execute(select(t).order_by(*t.primary_key.columns))]
                for t in (A, F, FG, BA, I, O, D, B)}


def text(response) -> str:  # noqa: ANN001
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).split())


@pytest.fixture
def world(engine, make_bookmark) -> dict[str, int]:
    """A follower, a pending request, a followed account with a post, a bookmark with responses."""
    ids = {name: add_actor(engine, name) for name in ("alice", "bob", "carol", "dave")}
    ids["alice_follower"] = add_follower(engine, ids["alice"])
    ids["bob_request"] = add_follower(engine, ids["bob"], "pending")
    ids["carol_following"] = add(engine, FG, actor_id=ids["carol"], follow_uri=f"{BASE_URL}/activities/f1",
                                 state="accepted", created_at=T0)
    ids["post"] = add(engine, P, uri="https://remote.example/users/carol/statuses/1", actor_id=ids["carol"],
                      link_url="https://news.example/story?id=7&x=1", title="A story worth saving",
                      content_html="<p>Read this <a href=\"https://news.example/story\">story</a></p>",
                      url="https://remote.example/@carol/1", published=T0, created_at=T0)
    ids["bookmark"] = make_bookmark.row("https://example.org/Commented-link", title="Commented link", created_at=T0)
    ids["like"] = add_interaction(engine, "like", ids["alice"], ("b", ids["bookmark"]))
    ids["reply"] = add_interaction(engine, "reply", ids["dave"], ("b", ids["bookmark"]), n=1,
                                   content="<p>Nice find!</p>")
    return ids


# --- access and CSRF -----------------------------------------------------------------------------------


def posts(world: dict[str, int]) -> list[tuple[str, dict[str, str]]]:
    return [("/admin/following", {"account": "@someone@remote.example"}),
            (f"/admin/following/{world['carol']}/unfollow", {}),
            (f"/admin/followers/{world['alice_follower']}/remove", {}),
            (f"/admin/followers/{world['alice_follower']}/block", {}),
            (f"/admin/followers/{world['bob_request']}/approve", {}),
            (f"/admin/followers/{world['bob_request']}/reject", {}),
            (f"/admin/interactions/{world['reply']}/hide", {}),
            (f"/admin/interactions/{world['reply']}/delete", {}),
            ("/admin/blocked/1/unblock", {})]


@pytest.mark.parametrize("path", GETS)
def test_pages_send_visitors_to_login(client, path):
    response = client.get(path)
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login" and parse_qs(location.query) == {"next": [path]}


def test_posts_from_visitors_change_nothing(client, engine, world):
    before = snapshot(engine)
    token = csrf_of(client)
    for path, data in posts(world):
        response = client.post(path, data={**data, "csrf_token": token})
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/login?next="), path
    assert snapshot(engine) == before


def test_posts_without_csrf_token_are_refused(owner, engine, world):
    before = snapshot(engine)
    for path, data in posts(world):
        response = owner.post(path, data=data)
        assert response.status_code == 400, path
        assert b"CSRF" in response.data
    assert snapshot(engine) == before


@pytest.mark.parametrize("path", GETS)
def test_pages_render_for_the_owner(owner, world, path):
    response = owner.get(path)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert 'name="robots" content="noindex"' in body
    assert "style=" not in body and "<script>" not in body and "onclick" not in body
    for form in re.findall(r'<form method="post".*?</form>', body, re.S):
        assert 'name="csrf_token" value="' in form


def test_dashboard_links_to_every_page(owner):
    body = owner.get("/admin/").get_data(as_text=True)
    for path in GETS:
        assert f'href="{path}"' in body


@pytest.mark.parametrize("path", ["/admin/interactions?page=0", "/network?page=x"])
def test_bad_page_numbers(owner, path):
    assert owner.get(path).status_code == 400


# --- following -----------------------------------------------------------------------------------------


def test_following_page_lists_accounts_with_unfollow_buttons(owner, world):
    response = owner.get("/admin/following")
    page = text(response)
    assert "Carol Example @carol@remote.example" in page and "following" in page
    assert f'action="/admin/following/{world["carol"]}/unfollow"' in response.get_data(as_text=True)
    assert '<label for="account">' in response.get_data(as_text=True)


def test_unfollow_button_queues_undo(owner, engine, world):
    response = owner.post(f"/admin/following/{world['carol']}/unfollow", data={"csrf_token": owner.csrf})
    assert response.status_code == 302 and response.headers["Location"] == "/admin/following"
    assert count(engine, FG) == 0
    [(undo, inboxes)] = queued(engine)
    assert undo["type"] == "Undo" and undo["actor"] == ACTOR
    assert undo["object"] == {"id": f"{BASE_URL}/activities/f1", "type": "Follow", "actor": ACTOR,
                              "to": ["https://remote.example/users/carol"],
                              "object": "https://remote.example/users/carol"}
    assert inboxes == ["https://remote.example/users/carol/inbox"]
    assert "Unfollowed @carol@remote.example." in text(owner.get("/admin/following"))


def test_unfollowing_twice_is_a_message(owner, engine, world):
    owner.post(f"/admin/following/{world['carol']}/unfollow", data={"csrf_token": owner.csrf})
    response = owner.post(f"/admin/following/{world['carol']}/unfollow", data={"csrf_token": owner.csrf},
                          follow_redirects=True)
    assert response.status_code == 200 and "You do not follow" in text(response)
    assert len(queued(engine)) == 1


@pytest.mark.parametrize("account, message", [("someone", "Enter an account as @user@host"),
                                              ("@owner@links.test", "this site's own account"),
                                              ("@x@169.254.169.254", "never contacts")])
def test_follow_form_errors_are_listed_and_keep_the_input(owner, engine, world, account, message):
    before = snapshot(engine)
    response = owner.post("/admin/following", data={"account": account, "csrf_token": owner.csrf})
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    alert = re.search(r'<div class="error" role="alert">(.*?)</div>', body, re.S)
    assert alert and message in unescape(alert.group(1))
    assert f'value="{account}"' in unescape(body) and 'aria-invalid="true"' in body
    assert snapshot(engine) == before


# --- followers -----------------------------------------------------------------------------------------


def test_followers_page_lists_followers_and_requests(owner, world):
    response = owner.get("/admin/followers")
    body, page = response.get_data(as_text=True), text(response)
    assert "Alice Example @alice@remote.example" in page and "Bob Example @bob@remote.example" in page
    for action in ("remove", "block"):
        assert f'action="/admin/followers/{world["alice_follower"]}/{action}"' in body
    for action in ("approve", "reject"):
        assert f'action="/admin/followers/{world["bob_request"]}/{action}"' in body
    assert f'/admin/followers/{world["bob_request"]}/remove' not in body


def test_remove_rejects_their_follow(owner, engine, world):
    response = owner.post(f"/admin/followers/{world['alice_follower']}/remove", data={"csrf_token": owner.csrf})
    assert response.status_code == 302
    assert count(engine, F, F.c.id == world["alice_follower"]) == 0
    assert count(engine, BA) == 0
    [(reject, inboxes)] = queued(engine)
    assert reject["type"] == "Reject" and reject["actor"] == ACTOR
    assert reject["object"] == {"id": f"https://remote.example/follows/{world['alice']}", "type": "Follow",
                                "actor": "https://remote.example/users/alice", "object": ACTOR}
    assert reject["to"] == ["https://remote.example/users/alice"]
    assert inboxes == ["https://remote.example/users/alice/inbox"]
    assert "Removed @alice@remote.example from your followers." in text(owner.get("/admin/followers"))


def test_block_blocks_and_takes_their_responses_down(owner, engine, world, client):
    add_interaction(engine, "reply", world["alice"], ("b", world["bookmark"]), n=5, content="<p>spam</p>")
    response = owner.post(f"/admin/followers/{world['alice_follower']}/block", data={"csrf_token": owner.csrf})
    assert response.status_code == 302
    assert count(engine, F, F.c.actor_id == world["alice"]) == 0
    with engine.connect() as conn:
        assert conn.execute(select(BA.c.uri)).scalars().all() == ["https://remote.example/users/alice"]
    [(block, inboxes)] = queued(engine)
    assert block["type"] == "Block" and block["object"] == "https://remote.example/users/alice"
    assert block["actor"] == ACTOR and inboxes == ["https://remote.example/users/alice/inbox"]
    assert count(engine, I, I.c.actor_id == world["alice"], I.c.kind == "like") == 0
    assert count(engine, I, I.c.actor_id == world["alice"], I.c.state == "hidden") == 1
    page = text(client.get(f"/bookmarks/{world['bookmark']}"))
    assert "spam" not in page and "Alice Example" not in page
    assert "Blocked accounts" in text(owner.get("/admin/followers"))


def test_block_someone_we_follow_also_unfollows(owner, engine, world):
    carol_follower = add_follower(engine, world["carol"])
    owner.post(f"/admin/followers/{carol_follower}/block", data={"csrf_token": owner.csrf})
    assert count(engine, FG) == 0
    assert [a["type"] for a, _ in queued(engine)] == ["Block", "Undo"]


def test_unblock_undoes_the_block(owner, engine, world):
    owner.post(f"/admin/followers/{world['alice_follower']}/block", data={"csrf_token": owner.csrf})
    add(engine, BA, uri="https://gone.example/users/x")
    with engine.connect() as conn:
        blocked_id = conn.execute(select(BA.c.id).where(BA.c.uri.like("%/alice"))).scalar_one()
    response = owner.post(f"/admin/blocked/{blocked_id}/unblock", data={"csrf_token": owner.csrf})
    assert response.status_code == 302
    assert count(engine, BA) == 1
    (block, _), (undo, inboxes) = queued(engine)
    assert undo["type"] == "Undo" and undo["object"]["id"] == block["id"] and undo["object"]["type"] == "Block"
    assert inboxes == ["https://remote.example/users/alice/inbox"]


def test_actions_on_a_follower_that_is_gone(owner, engine, world):
    for action in ("remove", "block", "approve", "reject"):
        response = owner.post(f"/admin/followers/9999/{action}", data={"csrf_token": owner.csrf},
                              follow_redirects=True)
        assert response.status_code == 200 and "gone" in text(response), action
    assert queued(engine) == []


def test_approve_accepts_a_pending_request(owner, engine, world):
    response = owner.post(f"/admin/followers/{world['bob_request']}/approve", data={"csrf_token": owner.csrf})
    assert response.status_code == 302
    with engine.connect() as conn:
        assert conn.execute(select(F.c.state).where(F.c.id == world["bob_request"])).scalar() == "accepted"
    [(accept, inboxes)] = queued(engine)
    assert accept["type"] == "Accept" and accept["object"]["id"] == f"https://remote.example/follows/{world['bob']}"
    assert inboxes == ["https://remote.example/users/bob/inbox"]


def test_reject_refuses_a_pending_request(owner, engine, world):
    response = owner.post(f"/admin/followers/{world['bob_request']}/reject", data={"csrf_token": owner.csrf})
    assert response.status_code == 302
    assert count(engine, F, F.c.id == world["bob_request"]) == 0
    [(reject, inboxes)] = queued(engine)
    assert reject["type"] == "Reject" and reject["object"]["id"] == f"https://remote.example/follows/{world['bob']}"
    assert inboxes == ["https://remote.example/users/bob/inbox"]


# --- interactions and moderation -----------------------------------------------------------------------


def test_interactions_page_lists_newest_first_with_links(owner, engine, world):
    note = add_weeknote(engine)
    add_interaction(engine, "announce", world["bob"], ("w", note), n=9)
    response = owner.get("/admin/interactions")
    page, body = text(response), response.get_data(as_text=True)
    assert page.index("boosted") < page.index("replied: Nice find!") < page.index("liked")
    assert f'href="/weeknotes/{WEEK}"' in body and f'href="/bookmarks/{world["bookmark"]}#responses"' in body
    assert f'action="/admin/interactions/{world["reply"]}/hide"' in body


@pytest.mark.parametrize("target", ["bookmark", "weeknote"])
def test_hide_show_delete_a_reply(owner, client, engine, world, target):
    if target == "weeknote":
        note = add_weeknote(engine)
        with engine.begin() as conn:
            conn.execute(update(I).where(I.c.id == world["reply"]).values(target_kind="w", target_id=note))
        path = f"/weeknotes/{WEEK}"
    else:
        path = f"/bookmarks/{world['bookmark']}"
    assert "Nice find!" in text(client.get(path))

    response = owner.post(f"/admin/interactions/{world['reply']}/hide",
                          data={"csrf_token": owner.csrf, "next": path + "#responses"})
    assert response.status_code == 302 and response.headers["Location"] == path + "#responses"
    assert count(engine, I, I.c.id == world["reply"], I.c.state == "hidden") == 1
    assert "Nice find!" not in text(client.get(path))
    shown_to_owner = owner.get(path).get_data(as_text=True)
    assert "Nice find!" in shown_to_owner and '<span class="badge">hidden</span>' in shown_to_owner

    owner.post(f"/admin/interactions/{world['reply']}/show", data={"csrf_token": owner.csrf})
    assert count(engine, I, I.c.id == world["reply"], I.c.state == "visible") == 1
    assert "Nice find!" in text(client.get(path))

    response = owner.post(f"/admin/interactions/{world['reply']}/delete",
                          data={"csrf_token": owner.csrf, "next": "https://evil.example/"})
    assert response.headers["Location"] == "/admin/interactions"  # only same-site paths
    assert count(engine, I, I.c.id == world["reply"]) == 0
    assert "Nice find!" not in text(client.get(path))
    gone = owner.post(f"/admin/interactions/{world['reply']}/delete", data={"csrf_token": owner.csrf},
                      follow_redirects=True)
    assert "gone already" in text(gone)


# --- item pages ----------------------------------------------------------------------------------------


def test_bookmark_page_shows_counts_likers_and_threaded_replies(client, owner, engine, world):
    target = ("b", world["bookmark"])
    add_interaction(engine, "like", world["bob"], target, n=2)
    add_interaction(engine, "announce", world["carol"], target, n=3)
    add_interaction(engine, "reply", world["alice"], target, n=4, content="<p>Answer to Dave</p>",
                    in_reply_to="https://remote.example/reply/%d/1" % world["dave"])
    add_interaction(engine, "reply", world["bob"], target, n=6, state="hidden", content="<p>Rude words</p>")
    add_interaction(engine, "reply", world["carol"], target, n=7, state="pending", content="<p>Unchecked</p>")
    add_interaction(engine, "reply", world["bob"], target, n=8,
                    content='<p>Bad <script>alert(1)</script><a href="javascript:alert(1)">x</a></p>')

    response = client.get(f"/bookmarks/{world['bookmark']}")
    body, page = response.get_data(as_text=True), text(response)
    assert "2 likes · 1 boost · 3 replies" in page
    assert "Liked by: Alice Example , Bob Example" in page
    assert 'href="https://remote.example/@alice"' in body and 'title="@alice@remote.example"' in body
    assert "Boosted by: Carol Example" in page
    assert "Nice find!" in page and "Answer to Dave" in page
    assert "Rude words" not in page and "Unchecked" not in page
    assert "<script>" not in body and "javascript:" not in body
    # the answer is nested under the reply it answers
    thread = re.search(rf'id="reply-{world["reply"]}".*?</article>\s*<ol class="replies">(.*?)</ol>', body, re.S)
    assert thread and "Answer to Dave" in thread.group(1)
    assert "/admin/interactions/" not in body  # no moderation buttons for readers

    mine = owner.get(f"/bookmarks/{world['bookmark']}").get_data(as_text=True)
    assert "Rude words" in mine and "Unchecked" in mine
    assert f'action="/admin/interactions/{world["reply"]}/hide"' in mine
    assert re.search(r'name="next" value="/bookmarks/\d+#reply-\d+"', mine)


def test_item_without_responses_has_no_section(client, engine, make_bookmark):
    bookmark = make_bookmark.row("https://example.org/Quiet", title="Quiet", created_at=T0)
    add_weeknote(engine)
    assert 'id="responses"' not in client.get(f"/bookmarks/{bookmark}").get_data(as_text=True)
    assert 'id="responses"' not in client.get(f"/weeknotes/{WEEK}").get_data(as_text=True)


def test_weeknote_page_shows_responses(client, engine, world):
    note = add_weeknote(engine)
    add_interaction(engine, "like", world["alice"], ("w", note), n=20)
    add_interaction(engine, "reply", world["bob"], ("w", note), n=21, content="<p>Good week</p>")
    page = text(client.get(f"/weeknotes/{WEEK}"))
    assert "1 like · 0 boosts · 1 reply" in page and "Liked by: Alice Example" in page and "Good week" in page


def _statements(engine, path: str, client) -> int:  # noqa: ANN001
    seen: list[str] = []

    def note(conn, cursor, statement, *args: Any) -> None:  # noqa: ANN001
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    try:
        assert client.get(path).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", note)
    return len(seen)


def test_bookmark_page_query_count_does_not_grow_with_responses(client, owner, engine, make_bookmark):
    quiet = make_bookmark.row("https://example.org/Quiet", title="Quiet", created_at=T0)
    busy = make_bookmark.row("https://example.org/Busy", title="Busy", created_at=T0)
    actors = [add_actor(engine, f"user{n}") for n in range(12)]
    for n, actor in enumerate(actors):
        add_interaction(engine, ["like", "announce", "reply"][n % 3], actor, ("b", busy), n=n,
                        content=f"<p>reply {n}</p>", uri=f"https://remote.example/i/{n}")
    baseline = _statements(engine, f"/bookmarks/{quiet}", client)
    # the bookmark, its weeknote, the responses' counts, the responses with their authors, the via credit, its
    # saved copy's state, and what every page reads: the settings saved on /admin/settings and the owner's
    # profile for the follow box
    assert baseline <= 8
    assert _statements(engine, f"/bookmarks/{busy}", client) == baseline
    assert _statements(engine, f"/bookmarks/{busy}", owner) <= baseline + 1  # the owner's session check


# --- network and via credit ----------------------------------------------------------------------------


def test_network_shows_posts_of_followed_accounts_with_a_save_link(owner, engine, world):
    add(engine, P, uri="https://remote.example/users/alice/statuses/9", actor_id=world["alice"],
        link_url="https://elsewhere.example/", title="Not followed", content_html="", published=T0,
        created_at=T0)
    response = owner.get("/network")
    body, page = response.get_data(as_text=True), text(response)
    assert "A story worth saving" in page and "Carol Example @carol@remote.example" in page
    assert "Read this story" in page and "Not followed" not in page
    save = unescape(re.search(r'<a class="button" href="([^"]+)">Save', body).group(1))
    assert urlsplit(save).path == "/save"
    assert parse_qs(urlsplit(save).query) == {
        "url": ["https://news.example/story?id=7&x=1"], "title": ["A story worth saving"],
        "via_actor": ["https://remote.example/users/carol"],
        "via_post": ["https://remote.example/users/carol/statuses/1"]}

    form = owner.get(save).get_data(as_text=True)
    assert 'name="via_actor" value="https://remote.example/users/carol"' in form
    assert 'name="via_post" value="https://remote.example/users/carol/statuses/1"' in form
    assert "found via @carol@remote.example" in text(owner.get(save))


def test_network_shows_link_hosts_so_they_cannot_spoof(owner, engine, world):
    """The host under each post is Unicode only when it is safe to read (linkblog/hosts.py's rules); an
    all-Cyrillic look-alike of apple.com is shown in punycode, as browsers show it."""
    for n, link in enumerate(["https://аррӏе.com/login", "https://xn--bcher-kva.example/buch"], start=2):
        add(engine, P, uri=f"https://remote.example/users/carol/statuses/{n}", actor_id=world["carol"],
            link_url=link, title=f"Post {n}", content_html="", published=T0, created_at=T0)
    sources = re.findall(r'<p class="source"><span class="host-mark[^"]*" aria-hidden="true">.</span>([^<]*)</p>',
                         owner.get("/network").get_data(as_text=True))
    assert "xn--80ak6aa92e.com" in sources and "аррӏе.com" not in sources
    assert "bücher.example" in sources


def test_save_with_via_stores_shows_and_credits(owner, client, engine, world):
    data = {"url": "https://news.example/story", "title": "Story", "visibility": "public",
            "via_actor": "https://remote.example/users/carol",
            "via_post": "https://remote.example/users/carol/statuses/1", "csrf_token": owner.csrf}
    response = owner.post("/save", data=data)
    assert response.status_code == 302
    with engine.connect() as conn:
        row = conn.execute(select(B.c.id, B.c.via_actor_uri, B.c.via_post_uri).where(B.c.title == "Story")).one()
    assert row.via_actor_uri == data["via_actor"] and row.via_post_uri == data["via_post"]
    body = client.get(f"/bookmarks/{row.id}").get_data(as_text=True)
    assert re.search(r'<a href="https://remote.example/users/carol/statuses/1"[^>]*>via @carol@remote.example</a>',
                     body)
    [(create, inboxes)] = queued(engine)
    assert create["type"] == "Create"
    assert {"type": "Mention", "href": data["via_actor"], "name": "@carol@remote.example"} in create["object"]["tag"]
    assert "https://remote.example/inbox" in inboxes  # the via author's server hears of it


@pytest.mark.parametrize("actor, post, stored", [
    ("https://unknown.example/users/x", "https://unknown.example/1", (None, None)),
    ("javascript:alert(1)", "https://remote.example/1", (None, None)),
    ("https://remote.example/users/carol", "javascript:alert(1)", ("https://remote.example/users/carol", None)),
])
def test_via_is_kept_only_for_known_actors_and_web_addresses(owner, engine, world, actor, post, stored):
    owner.post("/save", data={"url": "https://news.example/other", "title": "Other", "visibility": "public",
                              "via_actor": actor, "via_post": post, "csrf_token": owner.csrf})
    with engine.connect() as conn:
        assert tuple(conn.execute(select(B.c.via_actor_uri, B.c.via_post_uri).where(B.c.title == "Other")).one()) \
            == stored
    form = owner.get("/save", query_string={"url": "https://news.example/third", "via_actor": actor,
                                            "via_post": post}).get_data(as_text=True)
    assert ('name="via_actor"' in form) == (stored[0] is not None)
    assert ('name="via_post"' in form) == (stored[1] is not None)


def test_save_without_via_is_unchanged(owner, engine):
    owner.post("/save", data={"url": "https://plain.example/", "title": "Plain", "visibility": "public",
                              "csrf_token": owner.csrf})
    with engine.connect() as conn:
        assert tuple(conn.execute(select(B.c.via_actor_uri, B.c.via_post_uri)).one()) == (None, None)


# --- delivery log --------------------------------------------------------------------------------------


def test_delivery_log_shows_queued_and_failed_rows_counts_and_hosts(owner, engine):
    with engine.begin() as conn:
        activity = delivery.queue(conn, uri=f"{BASE_URL}/activities/a1", type_="Create",
                                  object_uri=f"{BASE_URL}/bookmarks/1", payload="{}", public=True,
                                  inboxes=["https://up.example/inbox", "https://down.example/inbox",
                                           "https://slow.example/inbox", "https://ok.example/inbox"])
        conn.execute(update(D).where(D.c.activity_id == activity, D.c.inbox == "https://down.example/inbox")
                     .values(state="gave_up", attempts=16, last_status=410, last_error="Gone for good"))
        conn.execute(update(D).where(D.c.inbox == "https://slow.example/inbox")
                     .values(attempts=3, last_status=503, last_error="Service Unavailable",
                             next_attempt_at=datetime(2026, 3, 4, 12, 30)))
        conn.execute(update(D).where(D.c.inbox == "https://ok.example/inbox").values(state="done", attempts=1))
        conn.execute(insert(H).values(host="down.example", failing_since=T0, unavailable=True))
    response = owner.get("/admin/deliveries")
    page = text(response)
    assert "Waiting to be sent 2" in page and "Delivered 1" in page and "Gave up 1" in page
    assert "down.example" in page and "unavailable" in page
    waiting = page[page.index("Waiting (2)"):page.index("Failed (1)")]
    assert "Create" in waiting and "https://slow.example/inbox 3 HTTP 503 Service Unavailable" in waiting
    assert "2026-03-04 12:30:00 UTC" in waiting and "https://up.example/inbox 0 not tried yet" in waiting
    failed = page[page.index("Failed (1)"):]
    assert "https://down.example/inbox 16 HTTP 410 Gone for good" in failed
    assert "ok.example" not in page


def test_replies_are_paged_and_more_replies_works_without_javascript(client, owner, engine, make_bookmark, world):
    """Page size 5 (tests/support/app.py): 12 replies in a thread show over three pages, oldest first, each
    exactly once, through plain links; an answer whose parent is on an earlier page stands on its own."""
    busy = make_bookmark.row("https://example.org/Busy", title="Busy", created_at=T0)
    first = add_interaction(engine, "reply", world["alice"], ("b", busy), n=100, content="<p>reply 0</p>",
                            uri="https://remote.example/r/0")
    for n in range(1, 12):
        add_interaction(engine, "reply", world["bob"], ("b", busy), n=100 + n, content=f"<p>reply {n}</p>",
                        uri=f"https://remote.example/r/{n}", in_reply_to="https://remote.example/r/0")
    path, bodies, pages, paths = f"/bookmarks/{busy}", [], [], []
    while path:
        paths.append(path)
        response = client.get(path)
        assert response.status_code == 200
        body = response.get_data(as_text=True)
        assert "12 replies" in text(response)
        bodies.append(body)
        pages.append([int(n) for n in re.findall(r"<p>reply (\d+)</p>", body)])
        more = re.search(r'<a href="([^"]+)" rel="next">More replies</a>', body)
        path = unescape(more.group(1)).split("#")[0] if more else None
    assert pages == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9], [10, 11]]
    assert re.search(rf'id="reply-{first}".*?</article>\s*<ol class="replies">', bodies[0], re.S)  # threaded
    assert "First replies" not in bodies[0] and "First replies" in bodies[1]
    assert client.get(f"/bookmarks/{busy}?replies=nonsense").status_code == 400
    # the owner's moderation buttons on a later page come back to that page
    later = unescape(owner.get(paths[1]).get_data(as_text=True))
    assert f'name="next" value="{paths[1]}#reply-' in later


def test_the_weeknote_page_pages_its_replies_too(client, engine, world):
    note = add_weeknote(engine)
    for n in range(7):
        add_interaction(engine, "reply", world["bob"], ("w", note), n=n, content=f"<p>week reply {n}</p>",
                        uri=f"https://remote.example/w/{n}")
    body = client.get(f"/weeknotes/{WEEK}").get_data(as_text=True)
    assert len(re.findall(r"<p>week reply \d+</p>", body)) == 5 and "7 replies" in body
    later = client.get(unescape(re.search(r'<a href="([^"]+)" rel="next">More replies</a>', body).group(1)))
    assert re.findall(r"<p>week reply (\d+)</p>", later.get_data(as_text=True)) == ["5", "6"]


class CountedReply(dict):
    """A reply row that counts how often its parent link is read: the steps of the threading walk."""

    reads = 0

    def __getitem__(self, key: str) -> Any:
        if key == "in_reply_to":
            CountedReply.reads += 1
        return super().__getitem__(key)


def test_a_long_thread_is_threaded_in_linear_time():
    """2,000 replies each answering the one before: walking every reply up to the root (as before) reads
    about two million parent links; one walk with the roots remembered reads each link once. Counting the
    reads shows the shape of the work without timing it."""
    replies = [CountedReply(uri=f"https://remote.example/r/{n}", content_html="",
                            in_reply_to=f"https://remote.example/r/{n - 1}" if n else f"{BASE_URL}/bookmarks/1")
               for n in range(2_000)]
    CountedReply.reads = 0
    [root] = fediverse_reads.threaded(replies)
    assert CountedReply.reads <= len(replies)
    assert root["uri"] == "https://remote.example/r/0" and len(root["children"]) == 1_999
    assert [child["uri"] for child in root["children"][:2]] == ["https://remote.example/r/1", "https://remote.example/r/2"]
