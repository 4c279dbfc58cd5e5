"""Slow key servers cannot take the site down: a real `linkblog serve` (2 web workers x 4 threads plus its
worker) gets signed inbox POSTs at once, each with a fresh keyId on a key server that answers
``103 Early Hints`` every 0.3 s forever: more than it has threads, so that however gunicorn spreads them
over its two processes, neither has a thread left unless we keep one. Every POST is answered within the
fetch deadline, and the home page answers, on new connections, while they are in flight."""
from __future__ import annotations

import json
import os
import threading
import time
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timezone

import pytest

from linkblog.federation.keys import generate_key_pair
from linkblog.federation.signatures import sign_headers

from tests.support.live import Instance, running
from tests.support.slow_peer import SlowPeer

pytestmark = pytest.mark.slow  # a real `linkblog serve`

PG_URL = os.environ.get("LINKBLOG_TEST_DATABASE_URL", "")
FETCH_TIMEOUT = 2     # [federation] fetch_timeout of the instance under attack
ATTACKERS = 12        # more than the server's 8 threads
READERS = 5           # home page requests while the POSTs are held, each on a new connection


def signed_post(site: Instance, key_id: str, private_pem: str) -> tuple[int, dict, float]:
    """One signed Create from the key server's actor; (status, Retry-After etc., seconds to the answer)."""
    actor = key_id.split("#")[0]
    body = json.dumps({"@context": "https://www.w3.org/ns/activitystreams", "id": f"{actor}/{uuid.uuid4()}",
                       "type": "Create", "actor": actor,
                       "object": {"id": f"{actor}/note/{uuid.uuid4()}", "type": "Note", "content": "hi"}}).encode()
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    headers = sign_headers("POST", site.base_url + "/inbox", {}, body, key_id, private_pem, now)
    request = urllib.request.Request(site.base_url + "/inbox", data=body, method="POST",
                                     headers={**headers, "Content-Type": "application/activity+json"})
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), time.monotonic() - started
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), time.monotonic() - started


@pytest.mark.parametrize("backend", ["sqlite"] + (["postgresql"] if PG_URL else []))
def test_inbox_answers_within_the_deadline_and_pages_answer_while_slow_key_servers_hold_requests(
        backend: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    private_pem, _ = generate_key_pair()
    settings = {"federation": {"allow_private_addresses": True, "fetch_timeout": FETCH_TIMEOUT}}
    answers: list[tuple[int, dict, float]] = []
    with running(("site",), backend, tmp_path_factory.mktemp, pg_url=PG_URL, settings=settings) as [site]:
        with SlowPeer("early-hints") as peer:
            posts = [threading.Thread(target=lambda i=i: answers.append(
                signed_post(site, f"{peer.base}/users/u{i}-{uuid.uuid4().hex[:6]}#main-key", private_pem)),
                daemon=True) for i in range(ATTACKERS)]
            for post in posts:
                post.start()
            peer.wait_for_request()
            home_seconds = []
            for _ in range(READERS):
                started = time.monotonic()
                with urllib.request.urlopen(site.base_url + "/", timeout=FETCH_TIMEOUT * 3) as response:
                    assert response.status == 200
                home_seconds.append(time.monotonic() - started)
            assert any(post.is_alive() for post in posts), "the slow POSTs were still waiting for their keys"
            for post in posts:
                post.join(FETCH_TIMEOUT * 3 + 35)
            assert not any(post.is_alive() for post in posts), "an inbox POST never got an answer"
        log = site.log()
    assert len(answers) == ATTACKERS, log
    for status, headers, seconds in answers:
        # 401: the key could not be had in time; 503: every key-fetch slot was busy (try later).
        assert status in (401, 503), (status, log)
        if status == 503:
            assert headers.get("Retry-After"), headers
        assert seconds < FETCH_TIMEOUT * 3, f"an inbox POST took {seconds:.1f} s, deadline {FETCH_TIMEOUT} s"
    assert any(status == 401 for status, _, _ in answers), "some POSTs reached the key server and timed out"
    assert max(home_seconds) < FETCH_TIMEOUT, f"the home page took {home_seconds} s while the POSTs were held"
