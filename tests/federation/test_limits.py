"""One stranger's activity costs bounded work (FEDERATION.md, "Limits" / "Per activity").

Each hostile activity is about 1 MiB, signed by a real peer on loopback, POSTed to the inbox and processed
by the worker's own ``process_pending`` on the real database; then a valid reply sent right after must be
processed too. Time bounds here are only "not minutes" (today's main spends minutes on some of these):
the figures are measured by ``bench/hostile.py``.
"""
from __future__ import annotations

import json
import time
from typing import Any, Callable

import pytest
from sqlalchemy import insert, select

from linkblog.federation import inbox
from linkblog.federation.fetcher import fetch_client
from linkblog.federation.receiving import MAX_BODY
from linkblog.models import Following, InboxActivity, Interaction, RemoteActor, RemotePost

from tests.federation.fakes import NOW, PUBLIC
from tests.support.app import BASE_URL, make_config

pytestmark = pytest.mark.usefixtures("clock", "loopback_only", "forget_failed_keys")

T0 = NOW.replace(day=1)
NOT_MINUTES = 20.0   # seconds: generous on a loaded machine; main takes minutes on the quadratic cases
LINK = "https://link.example/article"


@pytest.fixture
def config(database_url):
    return make_config(database_url, **{"federation.allow_private_addresses": True})


def fill(make_item: Callable[[int], Any], build: Callable[[list[Any]], dict[str, Any]], room: int = 4096) -> dict:
    """``build(items)`` with as many ``make_item(i)`` as fit in a body of 1 MiB less ``room`` bytes."""
    base = len(json.dumps(build([])))
    items, size, i = [], base, 0
    while True:
        item = make_item(i)
        size += len(json.dumps(item)) + 2
        if size > MAX_BODY - room:
            while len(json.dumps(build(items))) > MAX_BODY - room:   # the estimate was short: drop a few
                items = items[:len(items) * 99 // 100]
            return build(items)
        items.append(item)
        i += 1


def process(engine, config) -> float:
    started = time.monotonic()
    while inbox.process_pending(engine, config, fetch_client(config)):
        pass
    return time.monotonic() - started


def post(client, peer, actor, activity) -> None:
    body = json.dumps(activity).encode()
    assert len(body) <= MAX_BODY
    assert peer.post(client, actor, activity, now=NOW).status_code == 202


def stored(engine, activity: dict[str, Any]) -> dict[str, Any]:
    with engine.connect() as conn:
        return json.loads(conn.execute(select(InboxActivity.payload).where(InboxActivity.uri == activity["id"]))
                          .scalar_one())


def reply_rows(engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(Interaction.uri, Interaction.state, Interaction.content_html)
                                               .order_by(Interaction.id))]


def then_a_valid_reply_is_processed(client, engine, config, peer, alice, bookmark_id) -> None:
    reply = peer.note(alice, inReplyTo=f"{BASE_URL}/bookmarks/{bookmark_id}", content="<p>Fine, thanks</p>")
    post(client, peer, alice, peer.activity(alice, "Create", reply))
    assert process(engine, config) < NOT_MINUTES
    assert (reply["id"], "visible", "<p>Fine, thanks</p>") in reply_rows(engine)


def test_a_reply_to_100k_distinct_addresses_reads_the_first_thousand(client, engine, config, peer, make_bookmark):
    """Addresses were de-duplicated by list search: 100k of them cost minutes. Public comes last here, past
    ``max_list_items``: it is not read, so the reply is kept hidden (never shown by mistake)."""
    alice = peer.actor("alice")
    bookmark_id = make_bookmark.row(created_at=T0)
    target = f"{BASE_URL}/bookmarks/{bookmark_id}"

    def build(addresses: list[str]) -> dict[str, Any]:
        reply = peer.note(alice, inReplyTo=target, to=[*addresses, PUBLIC], cc=[])
        return peer.activity(alice, "Create", reply, to=[f"{alice.uri}/followers"])

    activity = fill(lambda i: f"{i:x}", build)
    assert len(activity["object"]["to"]) > 100_000
    post(client, peer, alice, activity)
    assert process(engine, config) < NOT_MINUTES
    kept = stored(engine, activity)
    assert len(kept["object"]["to"]) == 1000
    assert [(uri, state) for uri, state, _ in reply_rows(engine)] == [(activity["object"]["id"], "hidden")]
    then_a_valid_reply_is_processed(client, engine, config, peer, alice, bookmark_id)


TAIL = "<p>TAIL</p>"   # placed past max_content_chars (20,000) but within what main read (100,000)


def hostile(unit: str, head: str = "") -> str:
    """About 1 MiB of ``unit`` after ``head``, with TAIL at character 40,000 or so."""
    before = head + unit * ((40_000 - len(head)) // len(unit))
    return before + TAIL + unit * ((MAX_BODY - 60_000 - len(before)) // len(unit))


HOSTILE_HTML = {
    # html5ever is quadratic in nesting depth: main spent seconds sanitising 100,000 characters of these
    "nested divs": hostile("<div>"),
    "unclosed list items": hostile("<ul><li>"),
    # every paragraph re-opens the (distinct) formatting elements left open before it
    "formatting to reconstruct": hostile("<p>x</p>", "<p>" + "".join(f'<b title="{i}">' for i in range(300)) + "</p>"),
    "entities": hostile("&amp;&#x41;&bogus;&#"),
}


@pytest.mark.parametrize("html", HOSTILE_HTML.values(), ids=HOSTILE_HTML.keys())
def test_a_reply_with_hostile_html_is_cut_before_parsing(client, engine, config, peer, make_bookmark, html):
    alice = peer.actor("alice")
    bookmark_id = make_bookmark.row(created_at=T0)
    reply = peer.note(alice, inReplyTo=f"{BASE_URL}/bookmarks/{bookmark_id}", content="<p>Hello</p>" + html)
    activity = peer.activity(alice, "Create", reply)
    post(client, peer, alice, activity)
    assert process(engine, config) < NOT_MINUTES
    [(uri, state, content)] = reply_rows(engine)
    assert (uri, state) == (reply["id"], "visible")
    assert content.startswith("<p>Hello</p>")
    # max_content_chars (20,000) and max_content_tags (1,000) of the source are read: TAIL is not
    assert "TAIL" not in content and len(content) < 200_000
    then_a_valid_reply_is_processed(client, engine, config, peer, alice, bookmark_id)


def follow(engine, uri: str) -> None:
    with engine.begin() as conn:
        actor_id = conn.execute(select(RemoteActor.id).where(RemoteActor.uri == uri)).scalar_one()
        conn.execute(insert(Following).values(actor_id=actor_id, follow_uri=f"{BASE_URL}/activities/f1",
                                              state="accepted"))


@pytest.mark.parametrize("case", ["unclosed tags", "many tags", "many attachments"])
def test_a_followed_accounts_hostile_post_still_yields_its_link(client, engine, config, peer, make_bookmark, case):
    """Posts from followed accounts go through link extraction: html.parser ran on the whole content
    (``<a <a <a ...`` of 1 MiB: about ten minutes on main), and every tag and attachment was read."""
    alice = peer.actor("alice")
    make_bookmark.row(created_at=T0)
    post(client, peer, alice, peer.activity(alice, "Follow", f"{BASE_URL}/actor"))
    process(engine, config)          # alice is now a stored actor (and a follower)
    follow(engine, alice.uri)
    content = f'<p>Read <a href="{LINK}">this</a></p>'
    if case == "unclosed tags":
        note = peer.note(alice, content=content + "<a " * 349_000)
        activity = peer.activity(alice, "Create", note)
    elif case == "many tags":
        def build(tags: list[Any]) -> dict[str, Any]:
            return peer.activity(alice, "Create", peer.note(alice, content=content, tag=tags))
        activity = fill(lambda i: {"type": "Hashtag", "href": f"https://h.example/{i}", "name": f"#tag{i}"}, build)
    else:
        def build(items: list[Any]) -> dict[str, Any]:
            return peer.activity(alice, "Create", peer.note(alice, content="<p>see</p>", attachment=items))
        activity = fill(lambda i: {"type": "Document", "url": f"https://m.example/{i}", "mediaType": "image/png"},
                        build, room=8192)
        activity["object"]["attachment"].append({"type": "Link", "href": LINK})   # past max_list_items: unread
        activity["object"]["content"] = content
    post(client, peer, alice, activity)
    assert process(engine, config) < NOT_MINUTES
    with engine.connect() as conn:
        links = conn.execute(select(RemotePost.uri, RemotePost.link_url)).all()
    assert [tuple(r) for r in links] == [(activity["object"]["id"], LINK)]
    assert json.dumps(activity).count("{") < 20_000   # under max_json_values: trimmed, not refused
    kept = stored(engine, activity)["object"]
    assert all(len(kept.get(key, [])) <= 1000 for key in ("tag", "attachment"))
    bookmark_id = make_bookmark.row("https://example.org/b", created_at=T0)
    then_a_valid_reply_is_processed(client, engine, config, peer, alice, bookmark_id)


def test_a_flood_of_keys_and_depth_is_read_up_to_the_value_budget(client, engine, config, peer, make_bookmark):
    """``max_json_values`` values in all, ``id``/``type``/``actor`` first: thousands of junk keys before them
    and lists nested a thousand deep cost nothing after the budget."""
    alice = peer.actor("alice")
    bookmark_id = make_bookmark.row(created_at=T0)
    deep: Any = []
    for _ in range(900):
        deep = [deep]

    def build(junk: list[Any]) -> dict[str, Any]:
        fields = dict(junk)
        reply = peer.note(alice, inReplyTo=f"{BASE_URL}/bookmarks/{bookmark_id}", deep=deep)
        return {**fields, **peer.activity(alice, "Create", reply)}

    activity = fill(lambda i: (f"k{i}", i), build)
    post(client, peer, alice, activity)
    assert process(engine, config) < NOT_MINUTES
    kept = stored(engine, activity)
    assert kept["id"] == activity["id"] and kept["type"] == "Create"
    assert len(kept) <= 20_000 < len(activity)
    then_a_valid_reply_is_processed(client, engine, config, peer, alice, bookmark_id)


@pytest.mark.parametrize("shape", ["nested", "flat"])
def test_a_body_of_too_many_objects_and_lists_is_refused_unparsed(client, engine, config, peer, make_bookmark, shape):
    """Building hundreds of thousands of lists is itself the cost (a second on main, in the web process):
    more ``{`` and ``[`` than ``max_json_values`` is refused with 400 before the JSON is parsed."""
    alice = peer.actor("alice")
    bookmark_id = make_bookmark.row(created_at=T0)
    item = [[[[[]]]]] if shape == "nested" else []

    def build(items: list[Any]) -> dict[str, Any]:
        return peer.activity(alice, "Create", peer.note(alice, inReplyTo=f"{BASE_URL}/bookmarks/{bookmark_id}",
                                                        junk=items))

    activity = fill(lambda i: item, build)
    response = peer.post(client, alice, activity, now=NOW)
    assert (response.status_code, response.get_json()) == (
        400, {"error": "body holds too many JSON objects and lists ([federation] max_json_values)"})
    with engine.connect() as conn:
        assert conn.execute(select(InboxActivity.id)).all() == []
    then_a_valid_reply_is_processed(client, engine, config, peer, alice, bookmark_id)
