"""Real loopback peers for the fault tests: many inboxes behind one threaded HTTP server on 127.0.0.1.

Every ``POST /inbox/<n>`` is counted per activity id (the JSON body's ``id``) and per path, so a delivery
that arrives twice shows. ``answer(path)`` decides the status and headers (202 by default: a 410, a 429 with
Retry-After, a 503), ``delay`` slows every answer (a fan-out that takes long enough to be interrupted), and
``down()`` / ``up()`` stop and restart listening on the same port (a peer down for days: connection refused).
"""
from __future__ import annotations

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

Answer = tuple[int, dict[str, str]]


class LoopbackInboxes:
    def __init__(self, delay: float = 0.0, answer: Callable[[str], Answer] | None = None) -> None:
        self.delay = delay
        self.answer = answer or (lambda path: (202, {}))
        self.lock = threading.Lock()
        self.received: Counter = Counter()   # (activity id, path) -> times received
        self.statuses: Counter = Counter()   # status answered -> times
        self.posts: Counter = Counter()      # path -> POSTs received, whatever the answer
        self.port = 0
        self.server: ThreadingHTTPServer | None = None
        self.up()

    # --- what it serves ------------------------------------------------------------------------------------

    def inbox(self, number: int) -> str:
        return f"http://127.0.0.1:{self.port}/inbox/{number}"

    def up(self) -> None:
        """Listen (again, on the same port once it had one)."""
        peer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real servers do

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if peer.delay:
                    time.sleep(peer.delay)
                status, headers = peer.answer(self.path)
                try:
                    activity = str(json.loads(body).get("id"))
                except (ValueError, AttributeError):
                    activity = "?"
                with peer.lock:
                    peer.statuses[status] += 1
                    peer.posts[self.path] += 1
                    if 200 <= status < 300:
                        peer.received[(activity, self.path)] += 1
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self.port = server.server_address[1]
        self.server = server
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True,
                         name="loopback-inboxes").start()

    def down(self) -> None:
        """Stop listening: every connection is refused, as with a server that is down."""
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    close = down

    # --- what it received ----------------------------------------------------------------------------------

    def inboxes_reached(self, activity: str) -> int:
        with self.lock:
            return sum(1 for (a, _path) in self.received if a == activity)

    def duplicates(self, activity: str) -> int:
        """Deliveries beyond the first, summed over the inboxes."""
        with self.lock:
            return sum(n - 1 for (a, _path), n in self.received.items() if a == activity)

    def times(self, activity: str, path: str) -> int:
        with self.lock:
            return self.received[(activity, path)]


def add_followers(engine, inboxes: list[str]) -> None:  # noqa: ANN001
    """One remote actor with an accepted follow per inbox (each its own inbox, no shared inbox)."""
    from sqlalchemy import insert, select

    from linkblog.db import utcnow
    from linkblog.models import FOLLOWERS, REMOTE_ACTORS

    now = utcnow()
    actors = [{"uri": inbox.replace("/inbox/", "/users/"), "inbox": inbox, "shared_inbox": None,
               "handle": f"follower{n}@127.0.0.1", "display_name": "", "fetched_at": now, "created_at": now}
              for n, inbox in enumerate(inboxes)]
    with engine.begin() as conn:
        conn.execute(insert(REMOTE_ACTORS), actors)
        ids = conn.execute(select(REMOTE_ACTORS.c.id, REMOTE_ACTORS.c.uri)
                           .where(REMOTE_ACTORS.c.uri.in_([a["uri"] for a in actors]))).all()
        conn.execute(insert(FOLLOWERS), [{"actor_id": actor_id, "follow_uri": uri + "#follow", "state": "accepted",
                                          "created_at": now} for actor_id, uri in ids])
