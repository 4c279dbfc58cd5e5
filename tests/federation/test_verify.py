"""The inbox's verification pipeline, through the app, against a real fake peer on 127.0.0.1.

Every rule has its own test; every refusal must answer 400/401/413 (never 500) and store nothing. The
app's clock is fixed (``web.incoming.CLOCK_KEY``), so signature windows never depend on wall time.
"""
from __future__ import annotations

import base64
import json
import threading
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from sqlalchemy import event, insert, select

from linkblog import dates
from linkblog.federation import signatures as httpsig
from linkblog.models import BlockedActor, InboxActivity, RemoteActor, RemoteHost

from tests.support.app import BASE_URL, make_config
from tests.federation.fakes import AP, NOW, PUBLIC, peer_key, signed

pytestmark = pytest.mark.usefixtures("clock", "loopback_only", "forget_failed_keys")  # a fixed clock, no DNS

OUR_ACTOR = f"{BASE_URL}/actor"
FIXTURES = Path(__file__).parent / "fixtures" / "activitypub"


# --- fixtures -----------------------------------------------------------------------------------------------


@pytest.fixture
def config(database_url):
    return make_config(database_url, **{"federation.allow_private_addresses": True})


@pytest.fixture
def alice(peer):
    return peer.actor("alice")


def stored(engine) -> list[tuple[str, str, str, str]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(InboxActivity.uri, InboxActivity.actor_uri, InboxActivity.type,
                                                      InboxActivity.state).order_by(InboxActivity.id))]


def payload_of(engine, uri: str) -> dict:
    with engine.connect() as conn:
        return json.loads(conn.execute(select(InboxActivity.payload).where(InboxActivity.uri == uri)).scalar_one())


def remote_actor(engine, uri: str):
    with engine.connect() as conn:
        return conn.execute(select(RemoteActor).where(RemoteActor.uri == uri)).first()


def cache_key(engine, actor, *, key_index: int | None = None, fetched_at: datetime = NOW) -> None:
    """Put the actor's key in the cache as if fetched at ``fetched_at``."""
    pem = peer_key(actor.key_index if key_index is None else key_index)[1]
    with engine.begin() as conn:
        conn.execute(insert(RemoteActor).values(uri=actor.uri, inbox=actor.inbox, key_id=actor.key_id,
                                                public_key_pem=pem, fetched_at=fetched_at, created_at=fetched_at))


def follow(peer, actor):  # noqa: ANN001, ANN201
    return peer.activity(actor, "Follow", OUR_ACTOR)


def assert_refused(response, status: int, engine, reason: str = "") -> None:
    assert response.status_code == status, response.data
    assert reason in response.get_json()["error"]
    assert stored(engine) == []


# --- what gets through ----------------------------------------------------------------------------------------


def test_signed_follow_is_stored_and_answered_202(client, engine, peer, alice, key_pair):
    activity = follow(peer, alice)
    response = peer.post(client, alice, activity, now=NOW)
    assert response.status_code == 202
    assert stored(engine) == [(activity["id"], alice.uri, "Follow", "queued")]
    cached = remote_actor(engine, alice.uri)
    assert (cached.key_id, cached.public_key_pem) == (alice.key_id, alice.public_pem)
    assert (cached.inbox, cached.shared_inbox, cached.handle) == (alice.inbox, f"{peer.base}/inbox",
                                                                   f"alice@{peer.host}")


def test_the_key_fetch_is_signed_with_our_key(client, engine, peer, alice, key_pair):
    peer.post(client, alice, follow(peer, alice), now=NOW)
    [fetched] = peer.gets(alice.uri)
    assert f'keyId="{BASE_URL}/actor#main-key"' in fetched.headers["signature"]
    request = httpsig.IncomingRequest("GET", fetched.path, fetched.headers, b"", "http")
    sent_at = dates.parse_http_date(fetched.headers["date"])
    result = httpsig.verify_request(request, sent_at, lambda key_id: key_pair[1])
    assert isinstance(result, httpsig.Verified)


def test_rfc9421_signatures_are_accepted(client, engine, peer, alice):
    activity = follow(peer, alice)
    assert peer.post(client, alice, activity, now=NOW, scheme="rfc9421").status_code == 202
    assert [row[0] for row in stored(engine)] == [activity["id"]]


def test_the_shared_inbox_accepts_too(client, engine, peer, alice):
    activity = follow(peer, alice)
    assert peer.post(client, alice, activity, now=NOW, path="/inbox").status_code == 202
    assert len(stored(engine)) == 1


def test_a_repeated_delivery_is_a_noop_that_still_answers_202(client, engine, peer, alice):
    activity = follow(peer, alice)
    assert peer.post(client, alice, activity, now=NOW).status_code == 202
    assert peer.post(client, alice, activity, now=NOW + timedelta(seconds=30)).status_code == 202
    assert len(stored(engine)) == 1
    assert len(peer.gets(alice.uri)) == 1   # the key came from the cache the second time


@pytest.mark.parametrize("actor_value", ["object", "list"])
def test_the_actor_may_be_embedded_or_a_one_item_list(client, engine, peer, alice, actor_value):
    activity = follow(peer, alice)
    activity["actor"] = {"id": alice.uri, "type": "Person"} if actor_value == "object" else [alice.uri]
    assert peer.post(client, alice, activity, now=NOW).status_code == 202
    assert stored(engine)[0][1] == alice.uri


def test_what_we_know_of_a_known_sender_is_read_in_one_statement(client, engine, peer, alice):
    """Blocked? Its key? Its host failing? Every POST asks all three: one round trip, not three."""
    cache_key(engine, alice)
    seen: list[str] = []

    def note(_conn, _cursor, statement, *_args) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    try:
        assert peer.post(client, alice, follow(peer, alice), now=NOW).status_code == 202
    finally:
        event.remove(engine, "before_cursor_execute", note)
    reads = [s for s in seen if any(table in s for table in ("blocked_actors", "remote_actors", "remote_hosts"))]
    assert len(reads) == 1, reads
    assert len(stored(engine)) == 1 and peer.gets(alice.uri) == []


def test_a_verified_request_marks_its_host_reachable(client, engine, peer, alice):
    with engine.begin() as conn:
        conn.execute(insert(RemoteHost).values(host=peer.host, failing_since=NOW - timedelta(days=4),
                                               unavailable=True))
    assert peer.post(client, alice, follow(peer, alice), now=NOW).status_code == 202
    with engine.connect() as conn:
        row = conn.execute(select(RemoteHost).where(RemoteHost.host == peer.host)).one()
    assert (row.unavailable, row.failing_since) == (False, None)


def test_gotosocial_style_key_ids_are_resolved_through_the_owner(client, engine, peer):
    gts = peer.actor("gts", fragment_key=False)
    assert peer.post(client, gts, follow(peer, gts), now=NOW).status_code == 202
    assert len(peer.gets(gts.key_id)) == 1 and len(peer.gets(gts.uri)) == 1
    assert remote_actor(engine, gts.uri).key_id == gts.key_id


def test_a_like_of_our_item_by_id_is_fine(client, engine, peer, alice):
    like = peer.activity(alice, "Like", f"{BASE_URL}/bookmarks/1")
    assert peer.post(client, alice, like, now=NOW).status_code == 202
    assert len(stored(engine)) == 1


def test_an_announce_keeps_only_the_id_of_someone_elses_embedded_post(client, engine, peer, alice):
    forged = {"id": "https://elsewhere.example/notes/1", "type": "Note", "content": "words put in a mouth",
              "attributedTo": "https://elsewhere.example/users/x"}
    boost = peer.activity(alice, "Announce", forged, to=[PUBLIC])
    assert peer.post(client, alice, boost, now=NOW).status_code == 202
    assert payload_of(engine, boost["id"])["object"] == "https://elsewhere.example/notes/1"


def test_an_actor_may_update_itself(client, engine, peer, alice):
    update = peer.activity(alice, "Update", {**alice.doc, "name": "Alice Again"})
    assert peer.post(client, alice, update, now=NOW).status_code == 202
    assert len(stored(engine)) == 1


# --- body and shape: 413 / 400 --------------------------------------------------------------------------------


def test_a_body_over_one_mib_is_413_without_any_fetch(client, engine, peer, alice):
    activity = {**follow(peer, alice), "padding": "x" * (1024 * 1024)}
    assert_refused(peer.post(client, alice, activity, now=NOW), 413, engine)
    assert peer.seen == []


def test_a_body_that_is_not_json_is_400(client, engine, peer, alice):
    assert_refused(peer.post(client, alice, None, body=b"<xml/>", now=NOW), 400, engine, "not JSON")


def test_a_json_array_is_400(client, engine, peer, alice):
    assert_refused(peer.post(client, alice, [follow(peer, alice)], now=NOW), 400, engine, "not a JSON object")


@pytest.mark.parametrize("missing", ["id", "type", "actor"])
def test_an_activity_without_id_type_or_actor_is_400(client, engine, peer, alice, missing):
    activity = follow(peer, alice)
    del activity[missing]
    assert_refused(peer.post(client, alice, activity, now=NOW), 400, engine)
    assert peer.seen == []


def test_two_actors_are_400(client, engine, peer, alice):
    activity = {**follow(peer, alice), "actor": [alice.uri, f"{peer.base}/users/bob"]}
    assert_refused(peer.post(client, alice, activity, now=NOW), 400, engine, "single actor")


# --- the signature ------------------------------------------------------------------------------------------


def test_an_unsigned_request_is_401(client, engine, peer, alice):
    """Mastodon answers an unsigned but well-formed POST 401 ("Request not signed"), which double-knocking
    peers expect (issue 9, point 11); an unreadable body stays 400 (the body is read first)."""
    response = client.post("/actor/inbox", data=json.dumps(follow(peer, alice)),
                           headers={"Content-Type": AP, "Host": "links.test"})
    assert_refused(response, 401, engine, "not signed")
    assert peer.seen == []   # no key was fetched for it
    for body in (b"{not json", b"[]", json.dumps({"type": "Follow"}).encode()):
        response = client.post("/actor/inbox", data=body, headers={"Content-Type": AP, "Host": "links.test"})
        assert_refused(response, 400, engine)
    response = client.post("/actor/inbox", data=b"x" * (1024 * 1024 + 1), headers={"Content-Type": AP})
    assert_refused(response, 413, engine)


def test_an_unparseable_signature_is_400(client, engine, peer, alice):
    def garble(headers: dict) -> None:
        headers["Signature"] = "this is not a signature"

    assert_refused(peer.post(client, alice, follow(peer, alice), now=NOW, tamper=garble), 400, engine)


def test_a_signature_without_the_digest_is_401(client, engine, peer, alice):
    body = json.dumps(follow(peer, alice)).encode()
    date = dates.format_http_date(NOW)
    text = f"(request-target): post /actor/inbox\nhost: links.test\ndate: {date}"
    signature = httpsig.load_private_key(alice.private_pem).sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())
    headers = {"Host": "links.test", "Date": date, "Content-Type": AP,
               "Signature": f'keyId="{alice.key_id}",algorithm="rsa-sha256",headers="(request-target) host date",'
                            f'signature="{base64.b64encode(signature).decode()}"'}
    assert_refused(client.post("/actor/inbox", data=body, headers=headers), 401, engine, "digest")


def test_a_body_that_does_not_match_its_digest_is_401(client, engine, peer, alice):
    activity = follow(peer, alice)
    headers = signed("http://links.test/actor/inbox", json.dumps(activity).encode(), alice.key_id,
                     alice.private_pem, NOW)
    tampered = json.dumps({**activity, "object": f"{peer.base}/users/mallory"})
    response = client.post("/actor/inbox", data=tampered, headers={**headers, "Content-Type": AP})
    assert_refused(response, 401, engine, "does not match the body")
    assert peer.seen == []


@pytest.mark.parametrize("skew", [timedelta(hours=-2), timedelta(hours=2)], ids=["expired", "future"])
def test_a_signature_outside_the_time_window_is_401_without_a_key_fetch(client, engine, peer, alice, skew):
    response = peer.post(client, alice, follow(peer, alice), now=NOW + skew)
    assert_refused(response, 401, engine)
    assert peer.seen == []


def test_a_request_signed_for_another_host_is_401(client, engine, peer, alice):
    response = peer.post(client, alice, follow(peer, alice), now=NOW, host="other.test")
    assert_refused(response, 401, engine, "another host")


def test_a_signature_by_another_key_is_401(client, engine, peer, alice):
    response = peer.post(client, alice, follow(peer, alice), now=NOW, key_index=1)
    assert_refused(response, 401, engine, "does not match")
    assert len(peer.gets(alice.uri)) == 1   # fetched just now: no second fetch


# --- the key and its owner ----------------------------------------------------------------------------------


def test_a_rotated_key_is_refetched_once_and_then_verifies(client, engine, peer, alice):
    cache_key(engine, alice, fetched_at=NOW - timedelta(days=2))
    peer.rotate(alice, 1)
    assert peer.post(client, alice, follow(peer, alice), now=NOW).status_code == 202
    assert len(peer.gets(alice.uri)) == 1
    assert remote_actor(engine, alice.uri).public_key_pem == peer_key(1)[1]


def test_a_forged_signature_refetches_a_cached_key_at_most_once_a_minute(client, engine, peer, alice, clock):
    cache_key(engine, alice, fetched_at=NOW - timedelta(days=2))
    for offset in (0, 10, 50):
        clock.now = NOW + timedelta(seconds=offset)
        response = peer.post(client, alice, follow(peer, alice), now=clock.now, key_index=1)
        assert_refused(response, 401, engine, "does not match")
    assert len(peer.gets(alice.uri)) == 1


def test_a_key_owned_by_someone_else_is_401(client, engine, peer):
    eve = peer.actor("eve", publicKey={"id": f"{peer.base}/users/eve#main-key",
                                       "owner": f"{peer.base}/users/alice", "publicKeyPem": peer_key(0)[1]})
    assert_refused(peer.post(client, eve, follow(peer, eve), now=NOW), 401, engine, "not owned by")


def test_a_key_the_actor_does_not_list_is_401(client, engine, peer):
    eve = peer.actor("eve", publicKey={"id": f"{peer.base}/users/eve#other-key",
                                       "owner": f"{peer.base}/users/eve", "publicKeyPem": peer_key(0)[1]})
    assert_refused(peer.post(client, eve, follow(peer, eve), now=NOW), 401, engine, "does not list the key")


def test_a_key_stub_naming_an_owner_on_another_host_is_401(client, engine, peer):
    gts = peer.actor("gts", fragment_key=False)
    peer.serve(gts.key_id, {"id": gts.key_id, "owner": "http://127.0.0.2:9/users/gts", "publicKeyPem": "x"})
    assert_refused(peer.post(client, gts, follow(peer, gts), now=NOW), 401, engine, "not on the key's host")
    assert peer.gets(gts.uri) == []


def test_an_activity_whose_actor_is_not_the_key_owner_is_401(client, engine, peer, alice):
    bob = peer.actor("bob", key_index=1)
    claimed = {**follow(peer, alice), "actor": bob.uri}
    assert_refused(peer.post(client, alice, claimed, now=NOW), 401, engine, "not by the activity's actor")


def test_an_unreachable_key_is_401_and_the_failure_is_remembered_briefly(client, engine, peer, clock):
    ghost = peer.actor("ghost")
    del peer.pages[peer.path_of(ghost.uri)]
    for offset in (timedelta(0), timedelta(minutes=1)):
        clock.now = NOW + offset
        assert_refused(peer.post(client, ghost, follow(peer, ghost), now=clock.now), 401, engine, "404")
    assert len(peer.gets(ghost.uri)) == 1
    clock.now = NOW + timedelta(minutes=3)
    assert_refused(peer.post(client, ghost, follow(peer, ghost), now=clock.now), 401, engine)
    assert len(peer.gets(ghost.uri)) == 2


def test_keys_on_private_addresses_are_never_fetched_unless_allowed(app, client, engine, peer, alice):
    holder = app.extensions["linkblog"]
    holder.config = make_config(holder.config.database_url)   # allow_private_addresses off
    assert_refused(peer.post(client, alice, follow(peer, alice), now=NOW), 401, engine, "not allowed")
    assert peer.seen == []


# --- what the activity may claim ----------------------------------------------------------------------------


def test_an_activity_id_on_another_host_is_401(client, engine, peer, alice):
    activity = {**follow(peer, alice), "id": "https://elsewhere.example/activities/1"}
    assert_refused(peer.post(client, alice, activity, now=NOW), 401, engine, "activity id")


def test_an_embedded_object_from_another_host_is_401(client, engine, peer, alice):
    note = peer.note(alice, id="https://elsewhere.example/notes/1")
    assert_refused(peer.post(client, alice, peer.activity(alice, "Create", note), now=NOW), 401, engine,
                   "not on the actor's host")


def test_an_accept_may_quote_our_follow(client, engine, peer, alice):
    our_follow = {"id": f"{BASE_URL}/activities/1", "type": "Follow", "actor": OUR_ACTOR, "object": alice.uri}
    accept = peer.activity(alice, "Accept", our_follow)
    assert peer.post(client, alice, accept, now=NOW).status_code == 202
    assert payload_of(engine, accept["id"])["object"] == our_follow


def test_a_create_of_an_object_with_one_of_our_ids_is_401(client, engine, peer, alice):
    note = peer.note(alice, id=f"{BASE_URL}/bookmarks/1")
    assert_refused(peer.post(client, alice, peer.activity(alice, "Create", note), now=NOW), 401, engine,
                   "not on the actor's host")


def test_an_update_of_another_person_is_401(client, engine, peer, alice):
    bob = peer.actor("bob", key_index=1)
    update = peer.activity(alice, "Update", {**bob.doc, "name": "Bob, says Alice"})
    assert_refused(peer.post(client, alice, update, now=NOW), 401, engine, "only update itself")


def test_a_delete_of_another_embedded_actor_is_401(client, engine, peer, alice):
    delete = peer.activity(alice, "Delete", {"id": f"{peer.base}/users/bob", "type": "Person"})
    assert_refused(peer.post(client, alice, delete, now=NOW), 401, engine, "only delete itself")


def test_a_delete_of_another_known_actor_by_id_is_401(client, engine, peer, alice):
    bob = peer.actor("bob", key_index=1)
    cache_key(engine, bob)
    delete = peer.activity(alice, "Delete", bob.uri)
    assert_refused(peer.post(client, alice, delete, now=NOW), 401, engine, "only delete itself")


# --- blocks and deleted actors: 202, nothing stored ---------------------------------------------------------


def test_a_blocked_actor_gets_202_and_nothing_is_stored_or_fetched(client, engine, peer, alice):
    with engine.begin() as conn:
        conn.execute(insert(BlockedActor).values(uri=alice.uri))
    response = peer.post(client, alice, follow(peer, alice), now=NOW)
    assert response.status_code == 202 and "blocked" in response.get_json()["status"]
    assert stored(engine) == [] and peer.seen == []


def test_a_blocked_host_gets_202_and_nothing_is_stored(client, engine, peer, alice):
    with engine.begin() as conn:
        conn.execute(insert(BlockedActor).values(uri=peer.host))
    assert peer.post(client, alice, follow(peer, alice), now=NOW).status_code == 202
    assert stored(engine) == [] and peer.seen == []


@pytest.mark.parametrize("entry", ["https://a.example/users/x", "a.example", "https://a.example",
                                   "https://a.example/", "https://k.example/keys/1", "k.example"])
def test_every_name_of_an_actor_or_its_key_can_block_it_however_many_are_checked(engine, entry):
    from linkblog.federation.verify import blocked

    with engine.begin() as conn:
        conn.execute(insert(BlockedActor).values(uri=entry))
    assert blocked(engine, "https://a.example/users/x", "https://k.example/keys/1")
    # More uris than one query's names: a block named by the last of them is still found.
    many = [f"https://other{n}.example/users/y" for n in range(5)]
    assert blocked(engine, *many, "https://a.example/users/x", "https://k.example/keys/1")
    assert not blocked(engine, *many, "https://b.example/users/x")


def test_a_self_delete_from_an_unknown_actor_is_ignored_without_a_fetch(client, engine, peer, alice):
    peer.gone(alice.uri)
    response = peer.post(client, alice, peer.activity(alice, "Delete", alice.uri), now=NOW)
    assert response.status_code == 202 and "never knew" in response.get_json()["status"]
    assert stored(engine) == [] and peer.seen == []


def test_a_self_delete_verifies_with_the_cached_key_after_the_actor_is_gone(client, engine, peer, alice):
    cache_key(engine, alice)
    peer.gone(alice.uri)
    delete = peer.activity(alice, "Delete", alice.uri, to=[PUBLIC])
    assert peer.post(client, alice, delete, now=NOW).status_code == 202
    assert [row[0] for row in stored(engine)] == [delete["id"]]
    assert peer.seen == []


def test_a_forged_self_delete_of_a_gone_actor_is_401(client, engine, peer, alice):
    cache_key(engine, alice, fetched_at=NOW - timedelta(days=1))
    peer.gone(alice.uri)
    response = peer.post(client, alice, peer.activity(alice, "Delete", alice.uri), now=NOW, key_index=1)
    assert_refused(response, 401, engine, "410")


# --- real payloads, and concurrency -------------------------------------------------------------------------


def test_real_payloads_signed_by_a_peer_are_answered_as_expected(client, engine, peer, alice):
    """Every fixture, re-addressed as alice's (its id and actor are hers, its embedded objects are left
    as they are) and delivered in path order: answered as fixtures/EXPECTED.toml says, never an error."""
    from tests.federation.expectations import expected, name_of

    wrong = {}
    for path in sorted(FIXTURES.rglob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(doc, dict):
            doc = {**doc, "id": f"{peer.base}/fixtures/{path.stem}", "actor": alice.uri}
        response = peer.post(client, alice, doc, now=NOW)
        assert response.status_code in (202, 400, 401), (path, response.data)
        answer = response.get_json(silent=True) or {"error": response.get_data(as_text=True)[:200]}
        observed = f"{response.status_code} {answer.get('status') or answer.get('error')}"
        want = expected(path, "signed", observed)
        if observed != want:
            wrong[name_of(path)] = (want, observed)
    assert wrong == {}


def test_requests_are_served_concurrently(app, engine, peer, alice):
    """While we fetch alice's key, her server delivers another activity to us and waits for our
    answer before answering our fetch (as a peer answering our Follow may): a lock would deadlock."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    inbox_url = f"http://127.0.0.1:{server.server_port}/actor/inbox"
    answers: dict[str, int] = {}

    def deliver(activity: dict) -> int:
        body = json.dumps(activity).encode()
        headers = {**signed("http://links.test/actor/inbox", body, alice.key_id, alice.private_pem, NOW),
                   "Content-Type": AP}
        return httpx.post(inbox_url, content=body, headers=headers, timeout=10).status_code

    accept = peer.activity(alice, "Accept", f"{BASE_URL}/activities/our-follow")
    peer.hooks[peer.path_of(alice.uri)] = lambda: answers.setdefault("accept", deliver(accept))
    try:
        answers["follow"] = deliver(follow(peer, alice))
    finally:
        server.shutdown()
        server.server_close()
    assert answers == {"accept": 202, "follow": 202}
    assert sorted(row[2] for row in stored(engine)) == ["Accept", "Follow"]



# --- key fetches are limited per web process ----------------------------------------------------------------


def test_when_every_key_fetch_slot_is_busy_the_post_is_refused_503_and_can_retry(config, client, engine, peer,
                                                                                    alice):
    """A thread held by a slow key server is a thread no reader gets: beyond ``web_fetch_concurrency``
    key fetches at once, a POST needing one is answered 503 with Retry-After at once, fetching nothing,
    and the refusal is not remembered as a failed key (the retry is verified as usual)."""
    from linkblog.federation.fetcher import fetch_slot

    activity = follow(peer, alice)
    with fetch_slot(config), fetch_slot(config):   # the default two slots, both taken
        busy = peer.post(client, alice, activity, now=NOW)
    assert busy.status_code == 503
    assert busy.headers["Retry-After"]
    assert stored(engine) == [] and peer.gets(alice.uri) == []
    again = peer.post(client, alice, activity, now=NOW)
    assert again.status_code == 202
    assert stored(engine) == [(activity["id"], alice.uri, "Follow", "queued")]
