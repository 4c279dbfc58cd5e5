"""Outgoing federation: what a save queues, and the worker delivering it to a real inbox on loopback."""
from __future__ import annotations

import json
import random
import threading
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import func, insert, select, update

from linkblog import bookmarks, weeknotes
from linkblog.db import utcnow
from linkblog.federation import delivery
from linkblog.federation import signatures as httpsig
from linkblog.federation.worker import delivery_policy, make_poster, owner_auth
from linkblog.federation.net import AsyncFetchClient
from linkblog.models import (Delivery, Follower, OutboxActivity, RemoteActor, RemoteHost, Tombstone)

from tests.support.aio import run_async
from tests.support.app import BASE_URL, make_config

MAX_ATTEMPTS = 16


# --- the retry policy, pure ----------------------------------------------------------------------------------


def test_backoff_grows_and_spans_two_to_three_days():
    rng = random.Random(7)
    delays = [delivery.backoff(n, rng) for n in range(MAX_ATTEMPTS)]
    for n, delay in enumerate(delays):  # n^4 + 15 s, plus up to 9 (n + 1) s of jitter
        assert timedelta(seconds=n**4 + 15) <= delay <= timedelta(seconds=n**4 + 15 + 9 * (n + 1))
    assert delays[-1] > delays[len(delays) // 2] > delays[0]
    total = sum(delays, timedelta())
    assert timedelta(days=1, hours=12) < total < timedelta(days=3)


@pytest.mark.parametrize("status, verdict", [
    (200, "done"), (202, "done"), (204, "done"),
    (500, "retry"), (502, "retry"), (503, "retry"), (None, "retry"), (401, "retry"), (408, "retry"), (429, "retry"),
    (400, "give_up"), (403, "give_up"), (404, "give_up"), (410, "give_up"), (422, "give_up"),
])
def test_decide(status, verdict):
    assert delivery.decide(delivery.Outcome(status=status)) == verdict


def test_permanent_refusals_are_not_retried():
    assert delivery.decide(delivery.Outcome(status=None, permanent=True)) == "give_up"


def test_retry_after_is_honoured_up_to_the_cap():
    now = datetime(2026, 11, 20, 12, 0)
    rng = random.Random(1)
    waited = delivery.next_attempt(delivery.Outcome(429, retry_after=3600), 0, now, retry_after_cap=7200, rng=rng)
    assert waited == now + timedelta(seconds=3600)
    capped = delivery.next_attempt(delivery.Outcome(429, retry_after=10**6), 0, now, retry_after_cap=7200, rng=rng)
    assert capped == now + timedelta(seconds=7200)
    short = delivery.next_attempt(delivery.Outcome(503, retry_after=1), 3, now, retry_after_cap=7200, rng=rng)
    assert short >= now + timedelta(seconds=3**4 + 15)


# --- queueing in the same transaction --------------------------------------------------------------------------


def add_follower(engine, uri: str, inbox: str, shared: str | None = None, state: str = "accepted") -> int:
    with engine.begin() as conn:
        actor_id = conn.execute(insert(RemoteActor).values(uri=uri, inbox=inbox, shared_inbox=shared, handle="x@h",
                                                           display_name="", fetched_at=utcnow(),
                                                           created_at=utcnow()).returning(RemoteActor.id)).scalar_one()
        conn.execute(insert(Follower).values(actor_id=actor_id, follow_uri=uri + "#follow", state=state,
                                             created_at=utcnow()))
    return actor_id


def queued(engine) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(select(OutboxActivity.type, OutboxActivity.payload, Delivery.inbox)
                            .join(Delivery, Delivery.activity_id == OutboxActivity.id)
                            .order_by(OutboxActivity.id, Delivery.inbox)).all()
    return [{"type": t, "activity": json.loads(p), "inbox": i} for t, p, i in rows]


A_LINK = {"title": "A link", "annotation": "Good *stuff*", "tags": "web"}  # saved, and federated, by most tests


def test_save_queues_one_create_per_inbox_using_shared_inboxes(engine, make_bookmark):
    add_follower(engine, "https://a.example/users/1", "https://a.example/users/1/inbox", "https://a.example/inbox")
    add_follower(engine, "https://a.example/users/2", "https://a.example/users/2/inbox", "https://a.example/inbox")
    add_follower(engine, "https://b.example/users/3", "https://b.example/users/3/inbox")
    add_follower(engine, "https://c.example/users/4", "https://c.example/users/4/inbox", state="pending")
    bookmark_id = make_bookmark("https://example.org/a", **A_LINK, federate=True)
    rows = queued(engine)
    assert [r["inbox"] for r in rows] == ["https://a.example/inbox", "https://b.example/users/3/inbox"]
    activity = rows[0]["activity"]
    assert activity["type"] == "Create"
    assert activity["object"]["id"] == f"{BASE_URL}/bookmarks/{bookmark_id}"
    assert "https://www.w3.org/ns/activitystreams#Public" in activity["to"]
    assert "summary" not in activity["object"]


def test_private_is_never_queued_and_rollback_queues_nothing(engine, make_bookmark, config):
    add_follower(engine, "https://a.example/users/1", "https://a.example/users/1/inbox")
    make_bookmark("https://example.org/a", **A_LINK, visibility="private", federate=True)
    assert queued(engine) == []
    with pytest.raises(RuntimeError):
        with engine.begin() as conn:
            bookmarks.create(conn, bookmarks.validate({"url": "https://example.org/b"}), config=config)
            raise RuntimeError("crash before commit")
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(OutboxActivity)).scalar() == 0


def test_edit_sends_update_only_when_something_changed_and_delete_when_made_private(engine, make_bookmark, config):
    add_follower(engine, "https://a.example/users/1", "https://a.example/users/1/inbox")
    bookmark_id = make_bookmark("https://example.org/a", **A_LINK, federate=True)
    with engine.begin() as conn:
        same = bookmarks.load(conn, bookmark_id)
        assert bookmarks.edit(conn, bookmark_id, same, config=config) is False
    assert [r["type"] for r in queued(engine)] == ["Create"]
    with engine.begin() as conn:
        changed = bookmarks.validate({"url": "https://example.org/a", "title": "Better title", "tags": "web"})
        bookmarks.edit(conn, bookmark_id, changed, config=config)
    update_activity = queued(engine)[-1]["activity"]
    assert update_activity["type"] == "Update" and update_activity["object"]["name"] == "Better title"
    assert update_activity["object"]["updated"]
    with engine.begin() as conn:
        hidden = bookmarks.validate({"url": "https://example.org/a", "title": "Better title", "visibility": "private"})
        bookmarks.edit(conn, bookmark_id, hidden, config=config)
    assert [r["type"] for r in queued(engine)] == ["Create", "Update", "Delete"]


def test_delete_queues_delete_and_leaves_a_tombstone(engine, make_bookmark, config, client):
    add_follower(engine, "https://a.example/users/1", "https://a.example/users/1/inbox")
    bookmark_id = make_bookmark("https://example.org/a", **A_LINK, federate=True)
    with engine.begin() as conn:
        bookmarks.remove(conn, bookmark_id, config=config)
    last = queued(engine)[-1]["activity"]
    assert last["type"] == "Delete" and last["object"]["type"] == "Tombstone"
    with engine.connect() as conn:
        assert conn.execute(select(Tombstone.uri)).scalar_one() == f"{BASE_URL}/bookmarks/{bookmark_id}"
    gone = client.get(f"/bookmarks/{bookmark_id}", headers={"Accept": "application/activity+json"})
    assert gone.status_code == 410 and gone.get_json()["type"] == "Tombstone"
    new_id = make_bookmark("https://example.org/new", **A_LINK, federate=True)
    assert new_id != bookmark_id  # ids are ActivityPub ids: never reused


def test_weeknote_publish_update_unpublish(engine, config):
    add_follower(engine, "https://a.example/users/1", "https://a.example/users/1/inbox")
    with engine.begin() as conn:
        draft = weeknotes.validate({"week": "2026-W47", "title": "Week", "body": "Hello", "status": "draft"})
        note_id = weeknotes.save(conn, draft, config=config)
    assert queued(engine) == []
    with engine.begin() as conn:
        weeknotes.save(conn, weeknotes.validate({"week": "2026-W47", "title": "Week", "body": "Hello",
                                                 "status": "published"}), note_id, config=config)
        weeknotes.save(conn, weeknotes.validate({"week": "2026-W47", "title": "Week", "body": "Hello again",
                                                 "status": "published"}), note_id, config=config)
        weeknotes.save(conn, weeknotes.validate({"week": "2026-W47", "title": "Week", "body": "Hello again",
                                                 "status": "draft"}), note_id, config=config)
    kinds = [r["type"] for r in queued(engine)]
    assert kinds == ["Create", "Update", "Delete"]
    created = queued(engine)[0]["activity"]["object"]
    assert created["type"] == "Note" and "Hello" in created["content"]


# --- the worker against a real inbox on loopback ---------------------------------------------------------------


class Inbox:
    """A real HTTP inbox on 127.0.0.1 that answers from a script and checks every signature."""

    def __init__(self, public_pem: str):
        self.public_pem = public_pem
        self.answers: list[tuple[int, dict]] = []
        self.received: list[dict] = []
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                request = httpsig.IncomingRequest("POST", self.path, dict(self.headers.items()), body, scheme="http")
                parsed = httpsig.parse_signature(request)
                verified = (not isinstance(parsed, httpsig.Rejected)
                            and not isinstance(httpsig.verify_parsed(parsed, inbox.public_pem,
                                                                     datetime.now(tz=None).astimezone()),
                                               httpsig.Rejected))
                inbox.received.append({"path": self.path, "json": json.loads(body), "verified": verified,
                                       "connection": self.headers.get("Connection")})
                status, headers = inbox.answers.pop(0) if inbox.answers else (202, {})
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:  # noqa: ANN002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def loopback_config(database_url):
    return make_config(database_url, **{"federation.allow_private_addresses": True})


@pytest.fixture
def inbox(engine, key_pair):
    peer = Inbox(key_pair[1])
    yield peer
    peer.close()


def run_worker_once(engine, config) -> int:
    async def go() -> int:
        async with AsyncFetchClient(delivery_policy(config)) as client:
            return await delivery.run_once(engine, make_poster(client, owner_auth(engine, config)), concurrency=4,
                                           max_attempts=MAX_ATTEMPTS, retry_after_cap=3600,
                                           unavailable_after=timedelta(days=3))
    return run_async(go)


def make_due(engine) -> None:
    with engine.begin() as conn:
        conn.execute(update(Delivery).values(next_attempt_at=utcnow() - timedelta(seconds=1)))


def delivery_row(engine) -> Delivery:
    with engine.connect() as conn:
        return conn.execute(select(Delivery)).one()


def test_worker_delivers_signed_activities_the_peer_verifies(engine, make_bookmark, loopback_config, inbox):
    add_follower(engine, inbox.url + "/users/p", inbox.url + "/users/p/inbox")
    make_bookmark("https://example.org/a", **A_LINK, federate=loopback_config)
    assert run_worker_once(engine, loopback_config) == 1
    assert len(inbox.received) == 1
    assert inbox.received[0]["verified"] is True
    assert inbox.received[0]["json"]["type"] == "Create"
    row = delivery_row(engine)
    assert row.state == "done" and row.attempts == 1 and row.last_status == 202
    assert run_worker_once(engine, loopback_config) == 0  # nothing is sent twice


def test_worker_retries_5xx_gives_up_on_410_and_waits_for_retry_after(engine, make_bookmark, loopback_config, inbox):
    add_follower(engine, inbox.url + "/users/p", inbox.url + "/users/p/inbox")
    make_bookmark("https://example.org/a", **A_LINK, federate=loopback_config)
    inbox.answers = [(503, {}), (429, {"Retry-After": "600"}), (410, {})]
    run_worker_once(engine, loopback_config)
    first = delivery_row(engine)
    assert first.state == "queued" and first.attempts == 1 and first.last_status == 503
    assert first.next_attempt_at > utcnow()
    assert run_worker_once(engine, loopback_config) == 0  # not due yet
    make_due(engine)
    run_worker_once(engine, loopback_config)
    second = delivery_row(engine)
    assert second.attempts == 2 and second.last_status == 429
    assert second.next_attempt_at >= utcnow() + timedelta(seconds=590)
    make_due(engine)
    run_worker_once(engine, loopback_config)
    third = delivery_row(engine)
    assert third.state == "gave_up" and third.last_status == 410 and len(inbox.received) == 3


def test_unreachable_inbox_is_retried_and_the_host_is_marked_unavailable_after_days(engine, make_bookmark,
                                                                                    loopback_config):
    add_follower(engine, "http://127.0.0.1:9/users/p", "http://127.0.0.1:9/users/p/inbox")  # nothing listens
    make_bookmark("https://example.org/a", **A_LINK, federate=loopback_config)
    run_worker_once(engine, loopback_config)
    row = delivery_row(engine)
    assert row.state == "queued" and row.last_status is None and row.last_error
    with engine.begin() as conn:
        conn.execute(update(RemoteHost).values(failing_since=utcnow() - timedelta(days=4)))
    make_due(engine)
    run_worker_once(engine, loopback_config)
    with engine.connect() as conn:
        assert conn.execute(select(RemoteHost.unavailable)).scalar_one() is True
    make_bookmark("https://example.org/second", **A_LINK, federate=loopback_config)
    run_worker_once(engine, loopback_config)
    with engine.connect() as conn:
        skipped = conn.execute(select(Delivery).order_by(Delivery.id.desc())).first()
    assert skipped.state == "gave_up" and "unavailable" in skipped.last_error


def test_blocked_addresses_are_given_up_without_retrying(engine, make_bookmark, config):
    add_follower(engine, "https://127.0.0.1:9/users/p", "https://127.0.0.1:9/users/p/inbox")
    # allow_private_addresses is off: loopback is refused before connecting
    make_bookmark("https://example.org/a", **A_LINK, federate=True)
    run_worker_once(engine, config)
    row = delivery_row(engine)
    assert row.state == "gave_up" and "BlockedAddress" in row.last_error


def test_two_workers_never_claim_the_same_row(engine, make_bookmark, loopback_config):
    add_follower(engine, "https://a.example/u", "https://a.example/inbox")
    for n in range(30):
        make_bookmark(f"https://example.org/{n}", **A_LINK, federate=loopback_config)
    results: list[list[int]] = []
    start = threading.Barrier(2)

    def claimer() -> None:
        start.wait()  # both ask at the same moment
        results.append([c.id for c in delivery.claim(engine, 20)])

    threads = [threading.Thread(target=claimer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    first, second = results
    assert len(first) + len(second) == 30
    assert not set(first) & set(second)


def test_the_last_row_for_a_host_asks_for_its_connection_to_be_closed(engine, make_bookmark, loopback_config, inbox):
    """A connection no other row of the batch will use is closed after its answer instead of idling in the pool
    (where every idle connection is checked on each later request); one the batch will use again stays open."""
    add_follower(engine, inbox.url + "/users/p", inbox.url + "/users/p/inbox")
    add_follower(engine, inbox.url + "/users/q", inbox.url + "/users/q/inbox")
    make_bookmark("https://example.org/a", **A_LINK, federate=loopback_config)
    assert run_worker_once(engine, loopback_config) == 2
    assert all(r["verified"] for r in inbox.received)
    assert sorted(r["connection"] for r in inbox.received) == ["close", "keep-alive"]


def test_deliver_all_tells_the_poster_which_rows_are_the_last_for_their_host():
    items = [delivery.Claimed(n, f"https://{host}/inbox/{n}", host, 0, "{}")
             for n, host in enumerate(["a.example", "b.example", "a.example", "a.example"])]
    seen: list[tuple[str, bool]] = []

    async def post(inbox: str, body: bytes, keep_alive: bool) -> delivery.Outcome:
        seen.append((inbox, keep_alive))
        return delivery.Outcome(status=202)

    results = run_async(lambda: delivery.deliver_all(items, post, concurrency=1))
    assert all(outcome.status == 202 for outcome in results.values())
    assert seen == [("https://a.example/inbox/0", True), ("https://b.example/inbox/1", False),
                    ("https://a.example/inbox/2", True), ("https://a.example/inbox/3", False)]
