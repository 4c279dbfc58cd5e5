"""Load on a real `linkblog serve` for the fault tests: readers on the home page, the owner saving through the
API (each save queues a fan-out), and an inbox flood of signed Likes from one remote host. Every request is
recorded with when it started, how long it took and what it answered, so a test can say: no 500, no
"database is locked", pages kept answering, before, during and after a fault."""
from __future__ import annotations

import itertools
import json
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timezone

from tests.federation.fakes import PeerActor, RemotePeer, signed
from tests.support.live import Instance

TIMEOUT = 15.0  # a request that takes longer counts as "not answering"


@dataclass
class Answer:
    kind: str           # home | save | inbox
    started: float      # time.monotonic()
    seconds: float
    status: int | None  # None: no answer (timeout, connection refused)
    error: str = ""


@dataclass
class Load:
    site: Instance
    answers: list[Answer] = field(default_factory=list)
    saved: list[int] = field(default_factory=list)  # bookmark ids the API answered 201 for
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    threads: list[threading.Thread] = field(default_factory=list)

    def _request(self, kind: str, request: urllib.request.Request) -> tuple[int | None, bytes]:
        started = time.monotonic()
        status: int | None
        error, body = "", b""
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                status, body = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, body = exc.code, exc.read()
        except OSError as exc:
            status, error = None, f"{type(exc).__name__}: {exc}"
        with self.lock:
            self.answers.append(Answer(kind, started, time.monotonic() - started, status,
                                       error or (body[:300].decode(errors="replace") if status == 500 else "")))
        return status, body

    def _loop(self, step, pause: float) -> None:  # noqa: ANN001
        while not self.stop.is_set():
            step()
            self.stop.wait(pause)

    def start(self, target, pause: float = 0.0) -> None:  # noqa: ANN001
        thread = threading.Thread(target=self._loop, args=(target, pause), daemon=True)
        thread.start()
        self.threads.append(thread)

    # --- the kinds of traffic ------------------------------------------------------------------------------

    def readers(self, count: int = 2, pause: float = 0.05) -> None:
        for _ in range(count):
            self.start(lambda: self._request("home", urllib.request.Request(self.site.base_url + "/")), pause)

    def owner_saving(self, pause: float = 0.5) -> None:
        numbers = itertools.count(1)

        def save() -> None:
            body = json.dumps({"url": f"https://example.org/load/{next(numbers)}", "title": "Saved under load",
                               "tags": "load", "visibility": "public"}).encode()
            request = urllib.request.Request(self.site.base_url + "/api/bookmarks", data=body, method="POST",
                                             headers={"Authorization": f"Bearer {self.site.token}",
                                                      "Content-Type": "application/json"})
            status, answer = self._request("save", request)
            if status == 201:
                with self.lock:
                    self.saved.append(json.loads(answer)["id"])

        self.start(save, pause)

    def inbox_flood(self, peer: RemotePeer, actor: PeerActor, object_uri: str, senders: int = 2) -> None:
        """Signed Likes (each with its own id) of ``object_uri`` from one remote host, as fast as they go."""
        numbers = itertools.count(1)
        url = self.site.base_url + "/inbox"

        def like() -> None:
            activity = {"@context": "https://www.w3.org/ns/activitystreams", "type": "Like", "actor": actor.uri,
                        "id": f"{actor.uri}/likes/{next(numbers)}", "object": object_uri}
            body = json.dumps(activity).encode()
            headers = signed(url, body, actor.key_id, actor.private_pem, datetime.now(timezone.utc))
            headers["Content-Type"] = "application/activity+json"
            self._request("inbox", urllib.request.Request(url, data=body, method="POST", headers=headers))

        for _ in range(senders):
            self.start(like)

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=TIMEOUT + 5)

    # --- what happened -------------------------------------------------------------------------------------

    def of(self, kind: str, start: float = 0.0, end: float = float("inf")) -> list[Answer]:
        with self.lock:
            return [a for a in self.answers if a.kind == kind and start <= a.started < end]

    def failures(self, start: float = 0.0, end: float = float("inf")) -> list[Answer]:
        """Answers that are no answer at all, or a server error."""
        with self.lock:
            return [a for a in self.answers if start <= a.started < end and (a.status is None or a.status >= 500)]

    def quiet_gaps(self, kind: str, longest: float) -> list[tuple[float, float]]:
        """Stretches longer than ``longest`` seconds in which no ``kind`` request was answered successfully."""
        done = sorted(a.started + a.seconds for a in self.of(kind) if a.status is not None and a.status < 400)
        return [(a, b) for a, b in zip(done, done[1:]) if b - a > longest]
