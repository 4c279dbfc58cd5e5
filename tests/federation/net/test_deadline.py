"""One total deadline per request, whatever the peer does: real sockets on loopback, a peer that sends
``103 Early Hints`` forever, trickles its headers, or trickles its body, against the sync and the async
client. Each call runs in a thread joined with a timeout, so a client without the deadline fails the
test instead of hanging it."""
from __future__ import annotations

import threading
import time
from typing import Any, Callable

import pytest

from linkblog.federation.net import FetchError, FetchTimeout, deadline

from tests.federation.net.servers import Runner, allow
from tests.support.slow_peer import SlowPeer

TOTAL = 1.0          # the deadline under test
NEVER_HANGS = 3 * TOTAL
GIVE_UP = 15.0       # how long the test waits for a client that has no deadline at all


def timed(call: Callable[[], Any]) -> tuple[float, BaseException | None, Any]:
    """Seconds ``call`` took, what it raised and returned; fails if it is still running after GIVE_UP."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        started = time.monotonic()
        try:
            outcome["value"] = call()
        except BaseException as exc:  # noqa: BLE001  (reported to the test thread)
            outcome["error"] = exc
        outcome["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(GIVE_UP)
    assert not thread.is_alive(), f"the request was still waiting after {GIVE_UP} s: no total deadline"
    return outcome["seconds"], outcome.get("error"), outcome.get("value")


def policy() -> Any:
    # Per-step limits longer than the peer's pauses: only a total deadline can stop these peers.
    return allow(connect_timeout=TOTAL, read_timeout=5.0, total_timeout=TOTAL)


@pytest.mark.parametrize("mode", ["early-hints", "headers", "body"])
def test_a_fetch_ends_by_its_deadline_whatever_the_peer_sends(run: Runner, mode: str) -> None:
    with SlowPeer(mode) as peer:
        seconds, error, _ = timed(lambda: run(policy(), "fetch_json", peer.base + "/users/slow#main-key"))
        assert peer.requests, "the peer was asked"
    assert isinstance(error, FetchTimeout), error
    assert seconds < NEVER_HANGS, f"gave up after {seconds:.1f} s, deadline {TOTAL} s"


@pytest.mark.parametrize("mode", ["early-hints", "headers"])
def test_a_delivery_ends_by_its_deadline_whatever_the_inbox_sends(run: Runner, mode: str) -> None:
    with SlowPeer(mode) as peer:
        seconds, error, _ = timed(lambda: run(policy(), "post_json", peer.base + "/inbox", b"{}"))
    assert isinstance(error, FetchTimeout), error
    assert seconds < NEVER_HANGS, f"gave up after {seconds:.1f} s, deadline {TOTAL} s"


def test_a_delivery_whose_answer_body_trickles_keeps_its_status_and_its_deadline(run: Runner) -> None:
    with SlowPeer("body") as peer:
        seconds, error, answer = timed(lambda: run(policy(), "post_json", peer.base + "/inbox", b"{}"))
    assert error is None and answer.status == 200
    assert seconds < NEVER_HANGS, f"gave up after {seconds:.1f} s, deadline {TOTAL} s"


def test_webfinger_attempts_share_one_deadline(run: Runner) -> None:
    with SlowPeer("early-hints") as peer:
        seconds, error, _ = timed(lambda: run(policy(), "webfinger", f"alice@127.0.0.1:{peer.port}"))
    assert isinstance(error, FetchError), error
    assert seconds < NEVER_HANGS


def test_an_enclosing_deadline_bounds_several_sync_fetches() -> None:
    """One inbox request may fetch a key stub and then its owner: both share the request's deadline."""
    with SlowPeer("early-hints") as peer:
        def two_fetches() -> None:
            with deadline(TOTAL):
                for _ in range(2):
                    try:
                        Runner("sync")(allow(read_timeout=5.0, total_timeout=TOTAL * 2), "fetch_json", peer.base)
                    except FetchTimeout:
                        pass
        seconds, error, _ = timed(two_fetches)
    assert error is None
    assert seconds < 1.5 * TOTAL, f"two fetches took {seconds:.1f} s under a {TOTAL} s deadline"
