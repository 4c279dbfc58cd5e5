"""What stored inbox activities do when the worker runs ``process_pending``.

Most tests insert rows as the inbox would after verification, then process them with a fetcher over a
dict (``FakeFetch``: nothing leaves the process); the end-to-end tests at the bottom go through the
signed route and the real guarded client against a fake peer on 127.0.0.1.
"""
from __future__ import annotations

import itertools
import re
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select, update

from linkblog.db import utcnow
from linkblog.federation import following, inbox, keys
from linkblog.federation.fetcher import fetch_client
from linkblog.federation.reading import id_of, single
from linkblog.models import (Delivery, Follower, Following, InboxActivity, Interaction, OutboxActivity,
                             RemoteActor, RemotePost, Setting, Weeknote)

from tests.support.app import BASE_URL, make_config
from tests.federation.fakes import NOW, PUBLIC, FakeFetch, peer_key

pytestmark = pytest.mark.usefixtures("clock", "loopback_only", "forget_failed_keys")  # a fixed clock, no DNS

OURS = f"{BASE_URL}/actor"
THEM = "https://remote.example/users/alice"
BOB = "https://remote.example/users/bob"
FIXTURES = Path(__file__).parent / "fixtures" / "activitypub"
PAYLOADS = sorted(FIXTURES.rglob("*.json"))
T0 = datetime(2026, 3, 1, 9, 0, 0)
_ids = itertools.count(1)


@pytest.fixture
def config(database_url):
    return make_config(database_url, **{"federation.allow_private_addresses": True})


# --- helpers ------------------------------------------------------------------------------------------------


def actor_doc(uri: str = THEM, **changes: Any) -> dict[str, Any]:
    name = uri.rsplit("/", 1)[-1]
    doc = {"id": uri, "type": "Person", "preferredUsername": name, "name": name.title(),
           "inbox": f"{uri}/inbox", "endpoints": {"sharedInbox": "https://remote.example/inbox"},
           "url": f"https://remote.example/@{name}",
           "icon": {"type": "Image", "url": f"https://remote.example/{name}.png"},
           "publicKey": {"id": f"{uri}#main-key", "owner": uri, "publicKeyPem": peer_key(0)[1]}}
    doc.update(changes)
    return doc


def known(engine, uri: str = THEM, *, followed: str | None = None, follower: str | None = None) -> int:
    """A stored actor; ``followed``/``follower`` add a following/follower row in that state."""
    with engine.begin() as conn:
        actor_id = conn.execute(insert(RemoteActor).values(uri=uri, inbox=f"{uri}/inbox", handle="", key_id=None)
                                .returning(RemoteActor.id)).scalar_one()
        if followed:
            conn.execute(insert(Following).values(actor_id=actor_id, follow_uri=f"{BASE_URL}/activities/f{actor_id}",
                                                  state=followed))
        if follower:
            conn.execute(insert(Follower).values(actor_id=actor_id, follow_uri=f"{uri}/follows/1", state=follower))
    return actor_id


def act(kind: Any, obj: Any, actor: str = THEM, **extra: Any) -> dict[str, Any]:
    host = actor.split("/users/")[0]
    return {"@context": "https://www.w3.org/ns/activitystreams", "id": f"{host}/activities/{next(_ids)}",
            "type": kind, "actor": actor, "object": obj, **extra}


def note(actor: str = THEM, **fields: Any) -> dict[str, Any]:
    host = actor.split("/users/")[0]
    doc = {"id": f"{host}/notes/{next(_ids)}", "type": "Note", "attributedTo": actor, "content": "<p>Hi</p>",
           "to": [PUBLIC], "cc": [f"{actor}/followers"], "published": "2026-03-02T10:00:00Z"}
    doc.update(fields)
    return doc


def receive(engine, *activities: dict[str, Any]) -> None:
    with engine.begin() as conn:
        for activity in activities:
            inbox.store(conn, activity, id_of(single(activity["actor"])), now=NOW)


def handle(engine, config, *activities: dict[str, Any]) -> int:
    """Receive ``activities`` as the inbox stores them, then process the queue as the worker does."""
    receive(engine, *activities)
    return run(engine, config)


def run(engine, config, fetch: Any = None, **kwargs: Any) -> int:
    return inbox.process_pending(engine, config, fetch if fetch is not None else FakeFetch(), **kwargs)


def state(engine, activity: dict[str, Any]) -> str:
    with engine.connect() as conn:
        return conn.execute(select(InboxActivity.state).where(InboxActivity.uri == activity["id"])).scalar_one()


def rows(engine, model: Any, *columns: str) -> list[tuple]:
    table = model.__table__
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(*(table.c[c] for c in columns)).order_by(table.c.id))]


def sent(engine) -> list[tuple[str, dict, list[str]]]:
    """(type, payload, inboxes) of every queued outgoing activity."""
    with engine.connect() as conn:
        found = []
        for activity in conn.execute(select(OutboxActivity).order_by(OutboxActivity.id)):
            inboxes = conn.execute(select(Delivery.inbox).where(Delivery.activity_id == activity.id)).scalars().all()
            found.append((activity.type, json.loads(activity.payload), sorted(inboxes)))
    return found


def weeknote(engine, week: str = "2026-W09", status: str = "published") -> int:
    with engine.begin() as conn:
        return conn.execute(insert(Weeknote).values(week=week, title="Notes", body="", body_html="", status=status,
                                                    visibility="public", created_at=T0, updated_at=T0,
                                                    published_at=T0).returning(Weeknote.id)).scalar_one()


def interactions(engine) -> list[tuple]:
    return rows(engine, Interaction, "kind", "uri", "target_kind", "target_id", "in_reply_to", "state")


def manual(app) -> None:
    holder = app.extensions["linkblog"]
    holder.config = make_config(holder.config.database_url,
                                **{"federation.manually_approves_followers": True})


# --- follows ------------------------------------------------------------------------------------------------


def test_a_follow_is_accepted_automatically(engine, config):
    known(engine)
    follow = act("Follow", OURS)
    receive(engine, follow)
    assert run(engine, config) == 1
    assert state(engine, follow) == "done"
    assert rows(engine, Follower, "follow_uri", "state") == [(follow["id"], "accepted")]
    [(kind, payload, inboxes)] = sent(engine)
    assert (kind, payload["object"]["id"], payload["actor"], inboxes) == ("Accept", follow["id"], OURS,
                                                                           [f"{THEM}/inbox"])


def test_a_follow_from_an_unknown_actor_fetches_and_stores_the_actor(engine, config):
    receive(engine, act("Follow", OURS))
    fetch = FakeFetch({THEM: actor_doc()})
    run(engine, config, fetch)
    assert fetch.asked == [THEM]
    [stored] = rows(engine, RemoteActor, "inbox", "shared_inbox", "handle", "display_name", "icon_url", "url",
                    "key_id", "public_key_pem")
    assert stored == (f"{THEM}/inbox", "https://remote.example/inbox", "alice@remote.example", "Alice",
                      "https://remote.example/alice.png", "https://remote.example/@alice", f"{THEM}#main-key",
                      peer_key(0)[1])
    assert rows(engine, Follower, "state") == [("accepted",)]


def test_a_follow_whose_actor_cannot_be_fetched_fails_and_follows_nothing(engine, config):
    follow = act("Follow", OURS)
    receive(engine, follow)
    run(engine, config, FakeFetch())
    assert state(engine, follow) == "failed"
    with engine.connect() as conn:
        error = conn.execute(select(InboxActivity.error)).scalar_one()
    assert "404" in error
    assert rows(engine, Follower, "id") == [] and sent(engine) == []


def test_manual_approval_keeps_a_follow_pending_until_approved(app, engine, config):
    manual(app)
    known(engine)
    follow = act("Follow", OURS)
    receive(engine, follow)
    run(engine, app.extensions["linkblog"].config)
    [(follower_id, follower_state)] = rows(engine, Follower, "id", "state")
    assert follower_state == "pending" and sent(engine) == []
    with engine.begin() as conn:
        assert following.approve_follow(conn, config, follower_id) is True
        assert following.approve_follow(conn, config, follower_id) is False
    assert rows(engine, Follower, "state") == [("accepted",)]
    [(kind, payload, inboxes)] = sent(engine)
    assert (kind, payload["object"]["id"], inboxes) == ("Accept", follow["id"], [f"{THEM}/inbox"])


def test_follow_approval_turned_on_from_the_settings_page_holds_follows(engine, config):
    assert config.get("federation", "manually_approves_followers") is False  # config.toml: accept them all
    with engine.begin() as conn:  # as /admin/settings stores it
        conn.execute(insert(Setting).values(key="federation.manually_approves_followers", value="true",
                                            updated_at=T0))
    known(engine)
    follow = act("Follow", OURS)
    handle(engine, config, follow)
    assert rows(engine, Follower, "state") == [("pending",)] and sent(engine) == []


def test_rejecting_a_follow_request_drops_it_and_queues_a_reject(app, engine, config):
    manual(app)
    known(engine)
    follow = act("Follow", OURS)
    receive(engine, follow)
    run(engine, app.extensions["linkblog"].config)
    [(follower_id,)] = rows(engine, Follower, "id")
    with engine.begin() as conn:
        assert following.reject_follow(conn, config, follower_id) is True
    assert rows(engine, Follower, "id") == []
    [(kind, payload, inboxes)] = sent(engine)
    assert (kind, payload["object"]["id"], inboxes) == ("Reject", follow["id"], [f"{THEM}/inbox"])


def test_a_follow_of_someone_else_is_ignored(engine, config):
    known(engine)
    follow = act("Follow", "https://elsewhere.example/users/carol")
    handle(engine, config, follow)
    assert state(engine, follow) == "ignored"
    assert rows(engine, Follower, "id") == [] and sent(engine) == []


def test_a_new_follow_from_a_follower_is_answered_again(engine, config):
    known(engine)
    first, second = act("Follow", OURS), act("Follow", OURS)
    handle(engine, config, first, second)
    assert rows(engine, Follower, "follow_uri") == [(second["id"],)]
    assert [payload["object"]["id"] for _, payload, _ in sent(engine)] == [first["id"], second["id"]]


@pytest.mark.parametrize("form", ["embedded", "id"])
def test_undo_follow_removes_the_follower(engine, config, form):
    known(engine)
    follow = act("Follow", OURS)
    handle(engine, config, follow)
    undo = act("Undo", follow if form == "embedded" else follow["id"])
    handle(engine, config, undo)
    assert state(engine, undo) == "done"
    assert rows(engine, Follower, "id") == []


def test_a_block_from_a_follower_removes_them(engine, config):
    known(engine, follower="accepted")
    block = act("Block", OURS)
    handle(engine, config, block)
    assert state(engine, block) == "done"
    assert rows(engine, Follower, "id") == []


def test_a_move_of_a_follower_replaces_them_with_the_new_account(engine, config):
    old_id = known(engine, follower="accepted")
    new = "https://new.example/users/alice"
    move = act("Move", THEM, target=new)
    receive(engine, move)
    fetch = FakeFetch({new: actor_doc(new, alsoKnownAs=[THEM])})
    run(engine, config, fetch)
    assert state(engine, move) == "done"
    with engine.connect() as conn:
        new_id = conn.execute(select(RemoteActor.id).where(RemoteActor.uri == new)).scalar_one()
        moved_to = conn.execute(select(RemoteActor.moved_to).where(RemoteActor.id == old_id)).scalar_one()
    assert moved_to == new
    assert rows(engine, Follower, "actor_id", "state") == [(new_id, "accepted")]
    assert rows(engine, Following, "id") == []   # no automatic follow of the new account


def test_a_move_to_an_account_that_does_not_name_the_old_one_is_ignored(engine, config):
    old_id = known(engine, follower="accepted")
    new = "https://new.example/users/mallory"
    move = act("Move", THEM, target=new)
    receive(engine, move)
    run(engine, config, FakeFetch({new: actor_doc(new)}))
    assert state(engine, move) == "ignored"
    assert rows(engine, Follower, "actor_id") == [(old_id,)]


@pytest.mark.parametrize("form", ["id", "embedded", "embedded-without-id"])
def test_accept_of_our_follow_marks_it_accepted(engine, config, form):
    actor_id = known(engine, followed="pending")
    our_follow = f"{BASE_URL}/activities/f{actor_id}"
    obj = {"id": our_follow, "type": "Follow", "actor": OURS, "object": THEM}
    if form == "id":
        obj = our_follow
    elif form == "embedded-without-id":
        del obj["id"]
    accept = act("Accept", obj)
    handle(engine, config, accept)
    assert state(engine, accept) == "done"
    assert rows(engine, Following, "state") == [("accepted",)]


def test_reject_of_our_follow_removes_it(engine, config):
    actor_id = known(engine, followed="pending")
    reject = act("Reject", f"{BASE_URL}/activities/f{actor_id}")
    handle(engine, config, reject)
    assert rows(engine, Following, "id") == []


def test_accept_of_a_follow_we_never_sent_is_ignored(engine, config):
    known(engine, followed="pending")
    accept = act("Accept", f"{BASE_URL}/activities/someone-elses")
    handle(engine, config, accept)
    assert state(engine, accept) == "ignored"
    assert rows(engine, Following, "state") == [("pending",)]


# --- likes and boosts ---------------------------------------------------------------------------------------


def test_likes_of_our_bookmarks_and_weeknotes_are_recorded(engine, make_bookmark, config):
    known(engine)
    bookmark_id, weeknote_id = make_bookmark.row(created_at=T0), weeknote(engine)
    like_b = act("Like", f"{BASE_URL}/bookmarks/{bookmark_id}")
    like_w = act("Like", [f"{BASE_URL}/weeknotes/2026-W09"])   # a one-item list, as compacted JSON-LD allows
    handle(engine, config, like_b, like_w)
    assert interactions(engine) == [("like", like_b["id"], "b", bookmark_id, None, "visible"),
                                    ("like", like_w["id"], "w", weeknote_id, None, "visible")]


@pytest.mark.parametrize("target", ["other-site", "private", "missing", "draft"])
def test_likes_of_anything_else_are_ignored(engine, make_bookmark, config, target):
    known(engine)
    private_id = make_bookmark.row(visibility="private", created_at=T0)
    weeknote(engine, "2026-W10", "draft")
    urls = {"other-site": "https://elsewhere.example/notes/1", "private": f"{BASE_URL}/bookmarks/{private_id}",
            "missing": f"{BASE_URL}/bookmarks/999", "draft": f"{BASE_URL}/weeknotes/2026-W10"}
    like = act("Like", urls[target])
    handle(engine, config, like)
    assert state(engine, like) == "ignored" and interactions(engine) == []


@pytest.mark.parametrize("kind", ["Like", "Announce"])
def test_undo_removes_a_like_or_boost(engine, make_bookmark, config, kind):
    known(engine)
    bookmark_id = make_bookmark.row(created_at=T0)
    original = act(kind, f"{BASE_URL}/bookmarks/{bookmark_id}", to=[PUBLIC])
    handle(engine, config, original)
    assert [row[0] for row in interactions(engine)] == [kind.lower()]
    undo = act("Undo", original)
    handle(engine, config, undo)
    assert interactions(engine) == []


# --- replies ------------------------------------------------------------------------------------------------


def test_a_reply_to_a_bookmark_is_kept_sanitised(engine, make_bookmark, config):
    known(engine)
    bookmark_id = make_bookmark.row(created_at=T0)
    ours = f"{BASE_URL}/bookmarks/{bookmark_id}"
    reply = note(inReplyTo=ours, content='<p>Nice <script>alert(1)</script><a href="https://x.example">x</a></p>')
    handle(engine, config, act("Create", reply))
    assert interactions(engine) == [("reply", reply["id"], "b", bookmark_id, ours, "visible")]
    with engine.connect() as conn:
        html = conn.execute(select(Interaction.content_html)).scalar_one()
    assert "<script" not in html and "alert" not in html and 'href="https://x.example"' in html


def test_compacted_json_ld_forms_are_understood(engine, make_bookmark, config):
    """type and object as one-item lists, inReplyTo as a list, Public spelled "as:Public"."""
    known(engine)
    bookmark_id = make_bookmark.row(created_at=T0)
    reply = note(inReplyTo=[f"{BASE_URL}/bookmarks/{bookmark_id}"], to="as:Public", cc=[])
    handle(engine, config, act(["Create"], [reply]))
    assert [(r[0], r[1], r[5]) for r in interactions(engine)] == [("reply", reply["id"], "visible")]


def test_a_reply_to_a_reply_belongs_to_the_root_item(engine, make_bookmark, config):
    known(engine)
    known(engine, BOB)
    bookmark_id = make_bookmark.row(created_at=T0)
    first = note(inReplyTo=f"{BASE_URL}/bookmarks/{bookmark_id}")
    second = note(BOB, inReplyTo=first["id"])
    handle(engine, config, act("Create", first), act("Create", second, actor=BOB))
    assert [(r[1], r[2], r[3], r[4]) for r in interactions(engine)] == [
        (first["id"], "b", bookmark_id, f"{BASE_URL}/bookmarks/{bookmark_id}"),
        (second["id"], "b", bookmark_id, first["id"])]


def test_a_reply_not_addressed_to_the_public_is_kept_hidden(engine, make_bookmark, config):
    known(engine)
    bookmark_id = make_bookmark.row(created_at=T0)
    reply = note(inReplyTo=f"{BASE_URL}/bookmarks/{bookmark_id}", to=[OURS], cc=[])
    handle(engine, config, act("Create", reply, to=[OURS]))
    assert [r[5] for r in interactions(engine)] == ["hidden"]


@pytest.mark.parametrize("case", ["someone-elses-post", "attributed-to-another"])
def test_other_replies_are_ignored(engine, make_bookmark, config, case):
    known(engine)
    bookmark_id = make_bookmark.row(created_at=T0)
    if case == "someone-elses-post":
        reply = note(inReplyTo="https://elsewhere.example/notes/1")
    else:
        reply = note(inReplyTo=f"{BASE_URL}/bookmarks/{bookmark_id}", attributedTo=BOB)
    create = act("Create", reply)
    handle(engine, config, create)
    assert state(engine, create) == "ignored" and interactions(engine) == []


def test_an_update_of_a_reply_changes_its_content(engine, make_bookmark, config):
    known(engine)
    bookmark_id = make_bookmark.row(created_at=T0)
    reply = note(inReplyTo=f"{BASE_URL}/bookmarks/{bookmark_id}")
    handle(engine, config, act("Create", reply))
    edited = {**reply, "content": "<p>Edited <b>text</b></p>", "updated": "2026-03-02T11:00:00Z"}
    update_ = act("Update", edited)
    handle(engine, config, update_)
    assert state(engine, update_) == "done"
    with engine.connect() as conn:
        row = conn.execute(select(Interaction.content_html, Interaction.updated_at)).one()
    assert row == ("<p>Edited <b>text</b></p>", datetime(2026, 3, 2, 11, 0, 0))


def test_an_update_of_someone_elses_reply_changes_nothing(engine, make_bookmark, config):
    known(engine)
    known(engine, BOB)
    bookmark_id = make_bookmark.row(created_at=T0)
    reply = note(inReplyTo=f"{BASE_URL}/bookmarks/{bookmark_id}")
    handle(engine, config, act("Create", reply))
    hijack = act("Update", {**reply, "content": "<p>pwned</p>"}, actor=BOB)
    handle(engine, config, hijack)
    assert state(engine, hijack) == "ignored"
    with engine.connect() as conn:
        assert conn.execute(select(Interaction.content_html)).scalar_one() == "<p>Hi</p>"


def test_an_update_of_a_person_refreshes_the_actor(engine, config):
    known(engine)
    doc = actor_doc(name="Alice Renamed", icon={"type": "Image", "url": "https://remote.example/new.png"},
                    publicKey={"id": f"{THEM}#main-key", "owner": THEM, "publicKeyPem": peer_key(1)[1]})
    handle(engine, config, act("Update", doc))
    assert rows(engine, RemoteActor, "display_name", "icon_url", "key_id", "public_key_pem") == [
        ("Alice Renamed", "https://remote.example/new.png", f"{THEM}#main-key", peer_key(1)[1])]


def test_a_deleted_reply_goes_with_the_replies_to_it(engine, make_bookmark, config):
    known(engine)
    known(engine, BOB)
    bookmark_id = make_bookmark.row(created_at=T0)
    first = note(inReplyTo=f"{BASE_URL}/bookmarks/{bookmark_id}")
    answer = note(BOB, inReplyTo=first["id"])
    other = note(BOB, inReplyTo=f"{BASE_URL}/bookmarks/{bookmark_id}")
    handle(engine, config, act("Create", first), act("Create", answer, actor=BOB), act("Create", other, actor=BOB))
    delete = act("Delete", {"id": first["id"], "type": "Tombstone"})
    handle(engine, config, delete)
    assert state(engine, delete) == "done"
    assert [r[1] for r in interactions(engine)] == [other["id"]]


def test_a_delete_by_someone_else_removes_nothing(engine, make_bookmark, config):
    known(engine)
    known(engine, BOB)
    bookmark_id = make_bookmark.row(created_at=T0)
    reply = note(inReplyTo=f"{BASE_URL}/bookmarks/{bookmark_id}")
    handle(engine, config, act("Create", reply))
    handle(engine, config, act("Delete", reply["id"], actor=BOB))
    assert [r[1] for r in interactions(engine)] == [reply["id"]]


def test_a_deleted_actor_leaves_nothing_behind(engine, make_bookmark, config):
    actor_id = known(engine, follower="accepted", followed="accepted")
    bookmark_id = make_bookmark.row(created_at=T0)
    ours = f"{BASE_URL}/bookmarks/{bookmark_id}"
    post = note(content='<p><a href="https://news.example/story">story</a></p>')
    handle(engine, config, act("Like", ours), act("Create", note(inReplyTo=ours)), act("Create", post, to=[PUBLIC]))
    assert len(interactions(engine)) == 2 and len(rows(engine, RemotePost, "id")) == 1
    delete = act("Delete", THEM, to=[PUBLIC])
    handle(engine, config, delete)
    assert state(engine, delete) == "done"
    for model in (Interaction, RemotePost, Follower, Following):
        assert rows(engine, model, "id") == [], model
    assert rows(engine, RemoteActor, "id") == [] and actor_id


# --- the network page: posts with links from accounts the owner follows -------------------------------------


def test_a_post_with_a_link_from_a_followed_account_is_kept(engine, config):
    known(engine, followed="accepted")
    post = note(content='<p>Read <a href="https://news.example/story">this</a></p>', name="A story")
    handle(engine, config, act("Create", post, to=[PUBLIC]))
    assert rows(engine, RemotePost, "uri", "link_url", "title") == [(post["id"], "https://news.example/story",
                                                                     "A story")]


def test_an_update_of_a_kept_post_changes_its_title_link_and_content(engine, config):
    known(engine, followed="accepted")
    post = note(content='<p><a href="https://news.example/old">old</a></p>', name="Old title")
    handle(engine, config, act("Create", post, to=[PUBLIC]))
    edited = {**post, "content": '<p><a href="https://news.example/new">new</a></p>', "name": "New title"}
    handle(engine, config, act("Update", edited, to=[PUBLIC]))
    assert rows(engine, RemotePost, "link_url", "title") == [("https://news.example/new", "New title")]


@pytest.mark.parametrize("case", ["not-followed", "follow-pending", "no-link", "not-public"])
def test_other_posts_are_not_kept(engine, config, case):
    known(engine, followed="pending" if case == "follow-pending" else None if case == "not-followed" else "accepted")
    content = "<p>No link here</p>" if case == "no-link" else '<p><a href="https://news.example/x">x</a></p>'
    addressed = {"to": [f"{THEM}/followers"], "cc": []} if case == "not-public" else {}
    create = act("Create", note(content=content, **addressed), **addressed)
    handle(engine, config, create)
    assert state(engine, create) == "ignored"
    assert rows(engine, RemotePost, "id") == []


def test_a_boost_by_a_followed_account_fetches_the_post_and_undo_removes_it(engine, config):
    known(engine, followed="accepted")
    post = note("https://far.example/users/carol", content='<p><a href="https://news.example/y">y</a></p>')
    boost = act("Announce", post["id"], to=[PUBLIC])
    receive(engine, boost)
    fetch = FakeFetch({post["id"]: post})
    run(engine, config, fetch)
    assert fetch.asked == [post["id"]]
    assert rows(engine, RemotePost, "uri", "link_url") == [(boost["id"], "https://news.example/y")]
    handle(engine, config, act("Undo", boost["id"]))
    assert rows(engine, RemotePost, "id") == []


# --- the queue itself ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["Flag", "EmojiReact", "Add", "View", "Nonsense"])
def test_unknown_and_unhandled_types_are_ignored(engine, config, kind):
    known(engine)
    activity = act(kind, OURS)
    handle(engine, config, activity)
    assert state(engine, activity) == "ignored"


def test_rows_are_processed_in_id_order_up_to_the_limit(engine, config):
    known(engine)
    follow = act("Follow", OURS)
    undo = act("Undo", follow)
    receive(engine, follow, undo)
    assert run(engine, config, limit=1) == 1
    assert (state(engine, follow), state(engine, undo)) == ("done", "queued")
    assert run(engine, config) == 1
    assert rows(engine, Follower, "id") == []
    assert run(engine, config) == 0


def test_a_broken_row_fails_without_stopping_the_queue(engine, config):
    known(engine)
    with engine.begin() as conn:
        conn.execute(insert(InboxActivity).values(uri="https://remote.example/broken", actor_uri=THEM, type="Like",
                                                  payload="{not json", state="queued", received_at=NOW))
    follow = act("Follow", OURS)
    receive(engine, follow)
    assert run(engine, config) == 2
    assert rows(engine, InboxActivity, "state") == [("failed",), ("done",)]


def test_processing_a_row_again_changes_nothing_more(engine, make_bookmark, config):
    known(engine, followed="accepted")
    known(engine, BOB, follower="accepted")
    bookmark_id = make_bookmark.row(created_at=T0)
    ours = f"{BASE_URL}/bookmarks/{bookmark_id}"
    reply = note(inReplyTo=ours)
    receive(engine, act("Follow", OURS), act("Like", ours), act("Announce", ours, to=[PUBLIC]),
            act("Create", reply), act("Update", {**reply, "content": "<p>Edited</p>"}),
            act("Create", note(content='<p><a href="https://news.example/z">z</a></p>'), to=[PUBLIC]),
            act("Block", OURS, actor=BOB), act("Undo", f"{THEM}/follows/none"))
    run(engine, config)

    def snapshot() -> list:
        return [rows(engine, Follower, "actor_id", "follow_uri", "state"), interactions(engine),
                rows(engine, Interaction, "content_html", "updated_at"),
                rows(engine, RemotePost, "uri", "link_url"), rows(engine, Following, "state"),
                rows(engine, RemoteActor, "uri", "moved_to"), sent(engine)]

    before = snapshot()
    with engine.begin() as conn:
        conn.execute(update(InboxActivity).values(state="queued"))
    assert run(engine, config) == 8
    assert snapshot() == before


# --- every real payload -------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PAYLOADS, ids=lambda p: p.relative_to(FIXTURES).as_posix())
def test_every_real_payload_is_processed_as_expected(engine, make_bookmark, config, path: Path):
    """Stored as if verified (with its own actor, who is known and followed both ways, and one bookmark of
    ours; no fetch answers): it ends as fixtures/EXPECTED.toml says, done (with what it changed), ignored
    (for a reason that holds) or failed (with its error)."""
    from tests.federation.expectations import changes, check_processed, processed, snapshot

    doc = json.loads(path.read_text(encoding="utf-8"))
    make_bookmark.row(created_at=T0)
    if isinstance(doc, dict):
        actor = id_of(single(doc.get("actor"))) or id_of(single(doc.get("attributedTo"))) \
            or f"https://fixtures.example/{path.stem}"
        known(engine, actor, followed="accepted", follower="accepted")
        if not isinstance(doc.get("id"), str):
            doc = {**doc, "id": f"https://fixtures.example/{path.relative_to(FIXTURES).as_posix()}"}
        before = snapshot(engine)
        with engine.begin() as conn:
            inbox.store(conn, doc, actor, now=NOW)
    else:
        before = snapshot(engine)
        with engine.begin() as conn:
            conn.execute(insert(InboxActivity).values(uri=f"https://fixtures.example/{path.name}", actor_uri="x",
                                                      type="", payload=json.dumps(doc), state="queued"))
    assert run(engine, config) == 1
    with engine.connect() as conn:
        final, error = conn.execute(select(InboxActivity.state, InboxActivity.error)).one()
    if isinstance(doc, dict):
        assert final in ("done", "ignored") or (final == "failed" and error.startswith("fetching")), error
    said = changes(before, snapshot(engine))
    check_processed(path, doc, processed(final, error, said), said)


# --- end to end: through the signed route, processed with the real client ------------------------------------


def test_a_signed_follow_ends_with_an_accept_queued_to_the_follower(client, engine, config, peer):
    alice = peer.actor("alice")
    follow = peer.activity(alice, "Follow", OURS)
    assert peer.post(client, alice, follow, now=NOW).status_code == 202
    assert run(engine, config, fetch_client(config)) == 1
    assert rows(engine, Follower, "follow_uri", "state") == [(follow["id"], "accepted")]
    [(kind, payload, inboxes)] = sent(engine)
    assert (kind, payload["object"]["id"], inboxes) == ("Accept", follow["id"], [alice.inbox])


def test_a_signed_reply_ends_as_a_visible_reply(client, engine, make_bookmark, config, peer):
    alice = peer.actor("alice")
    bookmark_id = make_bookmark.row(created_at=T0)
    reply = peer.note(alice, inReplyTo=f"{BASE_URL}/bookmarks/{bookmark_id}")
    assert peer.post(client, alice, peer.activity(alice, "Create", reply), now=NOW).status_code == 202
    run(engine, config, fetch_client(config))
    assert interactions(engine) == [("reply", reply["id"], "b", bookmark_id, f"{BASE_URL}/bookmarks/{bookmark_id}",
                                     "visible")]


def test_a_signed_move_fetches_the_new_account_with_a_signed_get(client, engine, config, peer):
    alice = peer.actor("alice")
    assert peer.post(client, alice, peer.activity(alice, "Follow", OURS), now=NOW).status_code == 202
    new = peer.actor("alice2", key_index=1, alsoKnownAs=[alice.uri])
    assert peer.post(client, alice, peer.activity(alice, "Move", alice.uri, target=new.uri),
                     now=NOW).status_code == 202
    run(engine, config, fetch_client(config))
    [fetched] = peer.gets(new.uri)
    assert f'keyId="{BASE_URL}/actor#main-key"' in fetched.headers["signature"]
    with engine.connect() as conn:
        follower_uri = conn.execute(select(RemoteActor.uri).join(Follower, Follower.actor_id == RemoteActor.id)
                                    ).scalar_one()
    assert follower_uri == new.uri


def test_an_update_cannot_take_another_actors_key_id(client, engine, config, peer):
    """Issue 9, point 8: an actor's document may list any key id on its host. Mallory's signed Update of
    herself lists Alice's key id (with Alice's public key, so signatures by Alice would even verify): the
    key id stays Alice's, Mallory keeps her own, and Alice's signed posts are still accepted as hers."""
    alice = peer.actor("alice")
    mallory = peer.actor("mallory", key_index=1)
    for actor in (alice, mallory):
        assert peer.post(client, actor, peer.activity(actor, "Follow", OURS), now=NOW).status_code == 202
    run(engine, config, fetch_client(config))
    keys_before = rows(engine, RemoteActor, "uri", "key_id", "public_key_pem")
    assert keys_before == [(alice.uri, alice.key_id, alice.public_pem), (mallory.uri, mallory.key_id,
                                                                        mallory.public_pem)]
    claim = {**mallory.doc, "name": "Mallory Renamed",
             "publicKey": {"id": alice.key_id, "owner": mallory.uri, "publicKeyPem": alice.public_pem}}
    update_ = peer.activity(mallory, "Update", claim)
    assert peer.post(client, mallory, update_, now=NOW).status_code == 202
    run(engine, config, fetch_client(config))
    assert state(engine, update_) == "done"                               # the rest of the Update counts
    assert rows(engine, RemoteActor, "display_name") == [("Alice",), ("Mallory Renamed",)]
    assert rows(engine, RemoteActor, "uri", "key_id", "public_key_pem") == keys_before
    like = peer.activity(alice, "Like", f"{BASE_URL}/bookmarks/1")
    answer = peer.post(client, alice, like, now=NOW)
    assert answer.status_code == 202, answer.data                          # Alice's key still verifies as hers
    with engine.connect() as conn:
        assert conn.execute(select(InboxActivity.actor_uri).where(InboxActivity.uri == like["id"])).scalar_one() \
            == alice.uri
    again = peer.activity(mallory, "Follow", OURS)
    assert peer.post(client, mallory, again, now=NOW).status_code == 202   # and Mallory's key is still hers


def test_a_key_id_claimed_before_its_owner_was_known_goes_back_to_its_owner(client, engine, config, peer, clock):
    """The same claim made before Alice ever wrote to us: Mallory's row holds Alice's key id until Alice's
    first signed post, which resolves the key's owner from the key id itself (not more often than
    ``keys.REFRESH_AFTER``) and is accepted; Mallory's next claim changes nothing."""
    alice = peer.actor("alice")
    mallory = peer.actor("mallory", key_index=1)
    assert peer.post(client, mallory, peer.activity(mallory, "Follow", OURS), now=NOW).status_code == 202
    run(engine, config, fetch_client(config))
    claim = {**mallory.doc, "publicKey": {"id": alice.key_id, "owner": mallory.uri, "publicKeyPem": alice.public_pem}}
    assert peer.post(client, mallory, peer.activity(mallory, "Update", claim), now=NOW).status_code == 202
    run(engine, config, fetch_client(config))
    clock.now = utcnow() + keys.REFRESH_AFTER   # the worker stored Mallory's row at the real time
    like = peer.activity(alice, "Like", f"{BASE_URL}/bookmarks/1")
    answer = peer.post(client, alice, like, now=clock.now)
    assert answer.status_code == 202, answer.data
    assert rows(engine, RemoteActor, "uri", "key_id") == [(mallory.uri, None), (alice.uri, alice.key_id)]
    again = peer.activity(mallory, "Update", claim)
    assert peer.post(client, mallory, again, now=clock.now).status_code == 202   # her own key, fetched again
    run(engine, config, fetch_client(config))
    assert rows(engine, RemoteActor, "uri", "key_id", "public_key_pem") == [
        (mallory.uri, mallory.key_id, mallory.public_pem), (alice.uri, alice.key_id, alice.public_pem)]


def test_an_actor_likes_and_boosts_an_item_once_however_many_ids_it_sends(app, client, engine, make_bookmark,
                                                                          config, peer):
    """300 signed Likes with distinct ids from one actor are one like, on the page and in the database; a boost
    counts once too, another actor's like counts on its own, and an Undo of any of the Likes removes it."""
    holder = app.extensions["linkblog"]
    holder.config = make_config(holder.config.database_url, **{"federation.allow_private_addresses": True,
                                                               "federation.inbox_rate_limit": 0})
    alice, bob = peer.actor("alice"), peer.actor("bob", key_index=1)
    bookmark_id = make_bookmark.row(created_at=T0)
    ours = f"{BASE_URL}/bookmarks/{bookmark_id}"
    likes = [peer.activity(alice, "Like", ours) for _ in range(300)]
    boosts = [peer.activity(alice, "Announce", ours, to=[PUBLIC]) for _ in range(3)]
    for activity in [*likes, *boosts, peer.activity(bob, "Like", ours)]:
        assert peer.post(client, alice if activity["actor"] == alice.uri else bob, activity,
                         now=NOW).status_code == 202
    assert run(engine, config, fetch_client(config), limit=400) == 304

    def counted() -> tuple[list[tuple], str]:
        kinds = rows(engine, Interaction, "kind", "actor_id")
        page = client.get(f"/bookmarks/{bookmark_id}").get_data(as_text=True)
        shown = re.search(r'<p class="count">([^<]*)</p>', page)
        return sorted(kind for kind, _ in kinds), shown.group(1) if shown else ""

    assert counted() == (["announce", "like", "like"], "2 likes · 1 boost · 0 replies")

    undo = peer.activity(alice, "Undo", {"id": likes[-1]["id"], "type": "Like", "actor": alice.uri, "object": ours})
    assert peer.post(client, alice, undo, now=NOW).status_code == 202
    assert run(engine, config, fetch_client(config)) == 1
    assert state(engine, undo) == "done"
    assert counted() == (["announce", "like"], "1 like · 1 boost · 0 replies")
    with engine.connect() as conn:
        likers = conn.execute(select(RemoteActor.uri).join(Interaction, Interaction.actor_id == RemoteActor.id)
                              .where(Interaction.kind == "like")).scalars().all()
    assert likers == [bob.uri]
