"""linkblog against an independent ActivityPub server: the Fedify peer (tests/peers/fedify), with
Fedify's own signature verification on, federating with a real `linkblog serve` on loopback.

One linkblog instance per database backend (SQLite, and PostgreSQL when the run has a server) and one
Fedify peer beside it, both for the whole module. The tests run in file order on one instance, but
each sets up what it needs itself (the peer following us, a bookmark), so any subset of them, as
pytest-xdist hands them out, passes on its own.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Iterator

import pytest

from tests.peers.fedify_peer import FedifyPeer, PeerError
from tests.support.live import Instance, drop_postgres_database, new_postgres_database, wait_for

PG_URL = os.environ.get("LINKBLOG_TEST_DATABASE_URL", "")
LOOPBACK = {"federation": {"allow_private_addresses": True}}
CAVAGE = "draft-cavage-http-signatures-12"
AS_PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
pytestmark = pytest.mark.federation


# --- fixtures ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["sqlite"] + (["postgresql"] if PG_URL else []))
def blog(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    db_name = url = None
    if request.param == "postgresql":
        url, db_name = new_postgres_database(PG_URL)
    instance = Instance(Path(tmp_path_factory.mktemp(f"fedify-interop-{request.param}")), username="owner",
                        database_url=url, settings=LOOPBACK)
    try:
        instance.init().start()
        yield instance
    finally:
        instance.stop()
        if db_name:
            drop_postgres_database(PG_URL, db_name)


@pytest.fixture(scope="module")
def peer(blog: Instance, node: str) -> Iterator[FedifyPeer]:
    """The Fedify peer "fedi" (RFC 9421 first knock, Fedify's default) beside this backend's linkblog."""
    fedi = FedifyPeer("fedi")
    fedi.start()
    try:
        yield fedi
    finally:
        fedi.stop()
        fedi.cleanup()


@pytest.fixture(autouse=True)
def _diagnostics(request: pytest.FixtureRequest) -> Iterator[None]:
    """A failing test shows the module's peer log and the server log (both say why a delivery failed)."""
    yield
    report = getattr(request.node, "rep_call", None) or getattr(request.node, "rep_setup", None)
    if report is None or not report.failed:
        return
    for name in ("peer", "blog"):
        try:
            value = request.getfixturevalue(name) if name in request.fixturenames else None
        except Exception:  # noqa: BLE001  (that fixture's own setup failed, and pytest reports why)
            value = None
        if isinstance(value, FedifyPeer):
            print(f"\n----- Fedify peer {value.name} stderr (tail) -----\n{value.stderr_text()[-12000:]}")
        elif isinstance(value, Instance):
            print(f"\n----- linkblog serve.log (tail) -----\n{value.log()[-12000:]}")


# --- helpers -----------------------------------------------------------------------------------------------


def count(blog: Instance, query: str, **params: object) -> int:
    return blog.sql(query, **params)[0][0]


def from_us(blog: Instance, deliveries: list[dict]) -> list[dict]:
    return [d for d in deliveries if d["actor"] == blog.actor]


def answered(deliveries: list[dict]) -> list[dict]:
    """The deliveries the peer has finished with (a record appears before its verification is done)."""
    return [d for d in deliveries if d["status"] is not None]


def assert_verified_by_http_signature(blog: Instance, delivery: dict) -> None:
    """Fedify ran its own verifyRequest() on our delivery and accepted it; linkblog adds no Linked Data
    signature, so the HTTP signature is what authenticated it."""
    assert delivery["verified"] is True and delivery["status"] == 202, delivery
    assert delivery["verifiedBy"] == "http-signature", delivery
    signature = delivery["httpSignature"]
    assert signature["status"] == "verified", signature
    assert signature["owner"] == blog.actor
    assert signature["keyId"].startswith(blog.actor)
    assert delivery["signature"] in ("rfc9421", CAVAGE)


def assert_nothing_of_ours_rejected(blog: Instance, fedi: FedifyPeer) -> None:
    rejected = from_us(blog, fedi.rejected())
    assert rejected == [], [(d["type"], d["status"], d["response"], d["log"][-3:]) for d in rejected]
    assert count(blog, "SELECT count(*) FROM deliveries WHERE state = 'gave_up'") == 0
    failed = blog.sql("SELECT uri, type, state, error FROM inbox_activities WHERE state = 'failed'")
    assert failed == [], failed


def lookup(fedi: FedifyPeer, url: str) -> dict:
    """Fedify's signed lookupObject of `url`: `type` is the Fedify class it parsed the document into."""
    return fedi.call("GET", "/control/lookup", params={"url": url, "signed": "1"})


def last_seq(fedi: FedifyPeer) -> int:
    """The sequence number of the peer's latest inbox delivery (0 before any)."""
    return max((d["seq"] for d in fedi.inbox()), default=0)


def peer_follows(blog: Instance, fedi: FedifyPeer) -> None:
    """The peer follows our actor (once per instance) and has our Accept."""
    if any(f["actor"] == blog.actor and f["state"] == "accepted" for f in fedi.following()) \
            and count(blog, "SELECT count(*) FROM followers f JOIN remote_actors a ON a.id = f.actor_id "
                            "WHERE a.uri = :u AND f.state = 'accepted'", u=fedi.actor_url) == 1:
        return
    fedi.follow(blog.actor)
    fedi.wait_following(blog.actor, "accepted", timeout=20)
    wait_for(lambda: count(blog, "SELECT count(*) FROM followers f JOIN remote_actors a ON a.id = f.actor_id "
                                 "WHERE a.uri = :u AND f.state = 'accepted'", u=fedi.actor_url) == 1,
             what="our followers row for the peer")


def new_bookmark(blog: Instance, slug: str, **fields: object) -> dict:
    status, saved = blog.api("POST", "/api/bookmarks", {
        "url": f"https://example.org/{slug}", "title": f"A link about {slug}", "tags": ["fedi", "interop"],
        "annotation": "Worth *reading*.", **fields})
    assert status == 201, saved
    return saved


def delivered(fedi: FedifyPeer, kind: str, object_id: str, timeout: float = 20.0) -> dict:
    """The answered delivery of a `kind` activity about `object_id` (embedded or by id), verified or not."""
    def about(delivery: dict) -> bool:
        obj = (delivery["activity"] or {}).get("object")
        return delivery["status"] is not None and (obj.get("id") if isinstance(obj, dict) else obj) == object_id

    return fedi.wait_for(kind, verified=None, predicate=about, timeout=timeout)


# --- 1. the peer follows us ----------------------------------------------------------------------------------


def test_peer_follows_us_with_rfc9421_and_gets_a_verified_accept(blog: Instance, peer: FedifyPeer) -> None:
    follow = peer.follow(blog.actor)   # by URL: Fedify fetches the actor (signed GET) itself
    assert follow["ok"], follow
    sent = follow["sent"]
    assert sent["inbox"] == f"{blog.base_url}/actor/inbox", sent
    # our server took the RFC 9421 first knock: no double-knock, and Fedify remembers rfc9421 for us
    assert sent["signedWith"] == "rfc9421", sent
    assert not [line for line in sent["log"] if "double-knocking" in line], sent["log"]
    assert blog.sql("SELECT type, actor_uri FROM inbox_activities WHERE uri = :u", u=sent["id"]) == \
        [("Follow", peer.actor_url)]

    # auto-accepted: the follower is stored, and the Accept reaches the peer, verified by Fedify
    wait_for(lambda: count(blog, "SELECT count(*) FROM followers f JOIN remote_actors a ON a.id = f.actor_id "
                                 "WHERE a.uri = :u AND f.state = 'accepted'", u=peer.actor_url) == 1,
             what="our followers row for the peer")
    accept = peer.wait_for("Accept", verified=None, predicate=lambda d: answered(from_us(blog, [d])), timeout=20)
    assert_verified_by_http_signature(blog, accept)
    accepted = accept["activity"]["object"]
    assert (accepted["id"] if isinstance(accepted, dict) else accepted) == sent["id"]
    assert peer.wait_following(blog.actor, "accepted")["state"] == "accepted"
    # what the peer stored about us came from our actor document, fetched and parsed by Fedify
    actor = lookup(peer, blog.actor)
    assert actor["type"] == "Person" and actor["id"] == blog.actor
    assert actor["object"]["inbox"] == f"{blog.base_url}/actor/inbox"
    assert actor["object"]["publicKey"]["owner"] == blog.actor
    assert_nothing_of_ours_rejected(blog, peer)


def test_peer_signing_draft_cavage_first_follows_and_unfollows(blog: Instance, fedify_peers) -> None:
    cavage = fedify_peers("cavage", first_knock=CAVAGE)
    follow = cavage.follow(blog.actor)
    assert follow["ok"], follow
    assert follow["sent"]["signedWith"] == CAVAGE, follow["sent"]
    assert not [line for line in follow["sent"]["log"] if "double-knocking" in line], follow["sent"]["log"]
    wait_for(lambda: count(blog, "SELECT count(*) FROM followers f JOIN remote_actors a ON a.id = f.actor_id "
                                 "WHERE a.uri = :u AND f.state = 'accepted'", u=cavage.actor_url) == 1,
             what="our followers row for the cavage peer")
    accept = cavage.wait_for("Accept", verified=None, predicate=lambda d: answered(from_us(blog, [d])), timeout=20)
    assert_verified_by_http_signature(blog, accept)
    cavage.wait_following(blog.actor, "accepted")

    # leave the instance as it was: the Undo (cavage-signed) removes the follower
    assert cavage.unfollow(blog.actor)["ok"]
    wait_for(lambda: count(blog, "SELECT count(*) FROM followers f JOIN remote_actors a ON a.id = f.actor_id "
                                 "WHERE a.uri = :u", u=cavage.actor_url) == 0,
             what="the cavage peer's Undo Follow to remove it")
    assert from_us(blog, cavage.rejected()) == []


# --- 2. our bookmarks reach the peer -------------------------------------------------------------------------


def test_create_update_delete_reach_the_peer_verified(blog: Instance, peer: FedifyPeer) -> None:
    peer_follows(blog, peer)
    saved = new_bookmark(blog, "create-update-delete")
    note_id = saved["permalink"]

    create = delivered(peer, "Create", note_id)
    assert_verified_by_http_signature(blog, create)
    assert create["headers"]["content-type"].startswith(("application/activity+json", "application/ld+json"))
    activity = create["activity"]
    assert activity["actor"] == blog.actor
    note = activity["object"]
    assert note["type"] == "Note" and note["id"] == note_id and note["attributedTo"] == blog.actor
    assert "summary" not in note
    assert "Worth <em>reading</em>." in note["content"]
    assert 'href="https://example.org/create-update-delete"' in note["content"]
    assert [a["href"] for a in note["attachment"] if a["type"] == "Link"] == \
        ["https://example.org/create-update-delete"]
    hashtags = {t["name"] for t in note["tag"] if t["type"] == "Hashtag"}
    assert hashtags == {"#fedi", "#interop"}
    assert AS_PUBLIC in note["to"] + activity.get("to", [])

    # Fedify fetches the Note back (a signed GET) and parses it as a Note with the same content
    found = lookup(peer, note_id)
    assert found["type"] == "Note" and found["id"] == note_id
    looked_up = found["object"]
    assert looked_up["attributedTo"] == blog.actor
    assert "Worth <em>reading</em>." in looked_up["content"]
    assert "summary" not in looked_up
    attachment = looked_up["attachment"]
    attachment = attachment if isinstance(attachment, list) else [attachment]
    assert [a["href"] for a in attachment] == ["https://example.org/create-update-delete"]
    assert {t["name"] for t in looked_up["tag"]} == {"#fedi", "#interop"}

    # edit: a verified Update whose Note says when it was updated
    status, _ = blog.api("PATCH", f"/api/bookmarks/{saved['id']}", {"title": "A better title"})
    assert status == 200
    update = delivered(peer, "Update", note_id)
    assert_verified_by_http_signature(blog, update)
    edited = update["activity"]["object"]
    assert edited["type"] == "Note" and edited["id"] == note_id and edited["updated"] >= edited["published"]
    assert "A better title" in edited["content"] and "summary" not in edited

    # delete: a verified Delete of a Tombstone, and the Note's URL answers 410 Gone from then on
    assert blog.api("DELETE", f"/api/bookmarks/{saved['id']}")[0] == 204
    delete = delivered(peer, "Delete", note_id)
    assert_verified_by_http_signature(blog, delete)
    gone = delete["activity"]["object"]
    assert isinstance(gone, dict) and gone["type"] == "Tombstone" and gone["id"] == note_id
    assert blog.get_json(note_id)[0] == 410
    with pytest.raises(PeerError) as nothing:   # Fedify finds nothing there any more
        lookup(peer, note_id)
    assert nothing.value.status == 404
    assert_nothing_of_ours_rejected(blog, peer)


# --- 3. the peer likes and replies to a bookmark ------------------------------------------------------------


def test_peer_likes_and_replies_to_our_bookmark(blog: Instance, peer: FedifyPeer) -> None:
    saved = new_bookmark(blog, "liked-and-replied")
    note_id = saved["permalink"]

    like = peer.like(note_id)   # to the Note's attributedTo, which Fedify looks up itself
    assert like["ok"], like
    assert like["sent"]["inbox"].startswith(blog.base_url)
    reply = peer.reply(note_id, '<p>Great find, <b>thanks</b>!<script>alert("x")</script>'
                                '<a href="https://example.net/more" onclick="steal()">more</a></p>')
    assert reply["ok"], reply

    wait_for(lambda: blog.sql("SELECT a.uri FROM interactions i JOIN remote_actors a ON a.id = i.actor_id "
                              "WHERE i.kind = 'like' AND i.target_kind = 'b' AND i.target_id = :i",
                              i=saved["id"]) == [(peer.actor_url,)], what="the peer's Like to be stored")
    rows = wait_for(lambda: blog.sql("SELECT uri, in_reply_to, content_html, state FROM interactions "
                                     "WHERE kind = 'reply' AND target_id = :i", i=saved["id"]),
                    what="the peer's reply to be stored")
    (uri, in_reply_to, content_html, state), = rows
    assert uri == reply["note"] and in_reply_to == note_id and state == "visible"
    assert "Great find, <b>thanks</b>!" in content_html
    assert "<script" not in content_html and "alert" not in content_html and "onclick" not in content_html
    assert 'href="https://example.net/more"' in content_html

    page = blog.page(f"/bookmarks/{saved['id']}")
    assert "Great find, <b>thanks</b>!" in page and "<script>alert" not in page
    assert re.search(r"\b1 like\b", page), page
    assert re.search(r"\b1 reply\b", page)
    assert_nothing_of_ours_rejected(blog, peer)


# --- 4. we follow the peer ----------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["handle", "url"])
def test_we_follow_the_peer_see_its_link_posts_and_unfollow(blog: Instance, peer: FedifyPeer, how: str) -> None:
    target = peer.handle if how == "handle" else peer.actor_url   # a handle: our WebFinger, over http here
    since = last_seq(peer)
    blog.cli("follow", target)
    follow, = wait_for(lambda: answered(from_us(blog, peer.inbox("Follow", since=since))),
                       what="our Follow to reach the peer")
    assert_verified_by_http_signature(blog, follow)
    assert follow["activity"]["object"] == peer.actor_url
    wait_for(lambda: blog.sql("SELECT f.state FROM following f JOIN remote_actors a ON a.id = f.actor_id "
                              "WHERE a.uri = :u", u=peer.actor_url) == [("accepted",)],
             what="the peer's Accept to reach us")
    assert blog.actor in [f["actor"] for f in peer.followers()]

    # a public link post from the peer reaches our network page
    link = f"https://example.net/article-{how}"
    post = peer.post(f'<p>Have a look: <a href="{link}">an article</a> #interop</p>')
    assert post["ok"], post
    wait_for(lambda: blog.sql("SELECT link_url FROM remote_posts WHERE uri = :u", u=post["note"]) == [(link,)],
             what="the peer's post to reach our remote_posts")
    network = blog.owner_page("/network")
    assert link in network and "an article" in network

    # unfollow: the peer's followers list no longer has us
    blog.cli("unfollow", peer.actor_url)
    wait_for(lambda: blog.actor not in [f["actor"] for f in peer.followers()],
             what="our Undo Follow to reach the peer")
    undo, = wait_for(lambda: answered(from_us(blog, peer.inbox("Undo", since=since))),
                     what="the peer's answer to our Undo")
    assert_verified_by_http_signature(blog, undo)
    undone = undo["activity"]["object"]
    assert (undone["id"] if isinstance(undone, dict) else undone) == follow["id"]
    assert count(blog, "SELECT count(*) FROM following") == 0
    assert_nothing_of_ours_rejected(blog, peer)


# --- 5. the peer unfollows us -------------------------------------------------------------------------------


def test_peer_unfollows_us(blog: Instance, peer: FedifyPeer) -> None:
    peer_follows(blog, peer)
    undo = peer.unfollow(blog.actor)
    assert undo["ok"], undo
    wait_for(lambda: count(blog, "SELECT count(*) FROM followers") == 0, what="the peer's Undo Follow to reach us")
    assert blog.sql("SELECT state FROM inbox_activities WHERE uri = :u", u=undo["sent"]["id"]) == [("done",)]
    assert_nothing_of_ours_rejected(blog, peer)
