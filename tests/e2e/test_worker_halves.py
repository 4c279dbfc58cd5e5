"""The worker's two halves never wait for each other: with a real `linkblog serve`, an inbox activity
whose processing is stuck fetching from a peer that sends ``103 Early Hints`` forever does not hold a
delivery to a healthy inbox, and a delivery stuck on such a peer does not hold processing what arrived."""
from __future__ import annotations

import os
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import pytest
from sqlalchemy import Engine, insert, select

from linkblog.db import make_engine
from linkblog.federation import inbox
from linkblog.models import FOLLOWERS, INBOX_ACTIVITIES, REMOTE_ACTORS
from linkblog.states import FollowState

from tests.support.live import Instance, running, wait_for
from tests.support.slow_peer import SlowPeer

pytestmark = pytest.mark.slow  # a real `linkblog serve`

PG_URL = os.environ.get("LINKBLOG_TEST_DATABASE_URL", "")
STALL = 60      # the instance's fetch and delivery time limits: far longer than the test waits
PROMPTLY = 10   # seconds the other half may take


class Inbox(ThreadingHTTPServer):
    """A healthy inbox on loopback: answers 202 and keeps what was posted."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _InboxHandler)
        self.posts: list[bytes] = []
        self.base = f"http://127.0.0.1:{self.server_address[1]}"

    def server_bind(self) -> None:
        import socketserver
        socketserver.TCPServer.server_bind(self)  # no reverse DNS lookup of our own name
        self.server_name, self.server_port = "127.0.0.1", self.server_address[1]


class _InboxHandler(BaseHTTPRequestHandler):
    server: Inbox

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def do_POST(self) -> None:  # noqa: N802
        self.server.posts.append(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture(params=["sqlite"] + (["postgresql"] if PG_URL else []))
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Instance, Engine]]:
    settings = {"federation": {"allow_private_addresses": True, "fetch_timeout": STALL, "delivery_timeout": STALL}}
    with running(("site",), request.param, tmp_path_factory.mktemp, pg_url=PG_URL, settings=settings) as [instance]:
        engine = make_engine(instance.database_url or f"sqlite:///{instance.directory / 'linkblog.db'}")
        try:
            yield instance, engine
        finally:
            engine.dispose()


@pytest.fixture
def healthy() -> Iterator[Inbox]:
    server = Inbox()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def known_actor(engine: Engine, uri: str, inbox_url: str, *, follower: bool) -> None:
    with engine.begin() as conn:
        actor_id = conn.execute(insert(REMOTE_ACTORS).values(uri=uri, inbox=inbox_url)).inserted_primary_key[0]
        if follower:
            conn.execute(insert(FOLLOWERS).values(actor_id=actor_id, follow_uri=f"{uri}#follow",
                                                  state=FollowState.ACCEPTED))


def queue_follow(engine: Engine, site: Instance, actor: str) -> str:
    """A verified Follow of our actor, as the inbox route stores it."""
    activity = {"id": f"{actor}/follows/{uuid.uuid4()}", "type": "Follow", "actor": actor, "object": site.actor}
    with engine.begin() as conn:
        inbox.store(conn, activity, actor)
    return activity["id"]


def inbox_state(engine: Engine, uri: str) -> str:
    with engine.connect() as conn:
        return conn.execute(select(INBOX_ACTIVITIES.c.state).where(INBOX_ACTIVITIES.c.uri == uri)).scalar_one()


def test_a_stuck_inbox_fetch_does_not_hold_deliveries(site, healthy):
    instance, engine = site
    known_actor(engine, f"{healthy.base}/users/bob", f"{healthy.base}/users/bob/inbox", follower=True)
    with SlowPeer("early-hints") as slow:
        queue_follow(engine, instance, f"{slow.base}/users/slow")   # unknown actor: the worker must fetch it
        slow.wait_for_request(timeout=15)                          # ...and is now stuck on it
        status, _ = instance.api("POST", "/api/bookmarks", {"url": "https://example.org/while-stuck",
                                                            "title": "Saved while the inbox is stuck"})
        assert status == 201
        wait_for(lambda: healthy.posts, timeout=PROMPTLY, what="the delivery to the healthy follower")
        assert b"https://example.org/while-stuck" in healthy.posts[0]


def test_a_stuck_delivery_does_not_hold_the_inbox(site, healthy):
    instance, engine = site
    with SlowPeer("early-hints") as slow:
        known_actor(engine, f"{slow.base}/users/slow", f"{slow.base}/users/slow/inbox", follower=True)
        status, _ = instance.api("POST", "/api/bookmarks", {"url": "https://example.org/stuck",
                                                            "title": "Its delivery is stuck"})
        assert status == 201
        slow.wait_for_request(timeout=15)                          # the delivery is now stuck
        known_actor(engine, f"{healthy.base}/users/carol", f"{healthy.base}/users/carol/inbox", follower=False)
        follow = queue_follow(engine, instance, f"{healthy.base}/users/carol")
        wait_for(lambda: inbox_state(engine, follow) == "done", timeout=PROMPTLY,
                 what="the Follow processed while a delivery is stuck")
