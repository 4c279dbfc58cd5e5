"""The delivery queue's promises, against a real loopback peer, with the time given by an injected clock
(``delivery.run_once(clock=...)``) instead of waited for: it gives up after ``max_attempts``; it takes over rows
whose lease ended (a worker that died mid-batch only delays them); and a peer that answers 410, answers 429
with Retry-After, or is down for days is handled as FEDERATION.md says."""
from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlalchemy import select

from linkblog.db import utcnow
from linkblog.federation import delivery
from linkblog.federation.net import AsyncFetchClient
from linkblog.federation.worker import delivery_policy, make_poster, owner_auth
from linkblog.models import DELIVERIES, OUTBOX_ACTIVITIES, REMOTE_HOSTS

from tests.faults.peers import add_followers
from tests.support.aio import run_async

MAX_ATTEMPTS = 5
LEASE = timedelta(minutes=2)
UNAVAILABLE_AFTER = timedelta(days=3)


class Clock:
    """The worker's time: starts now, moves only when the test says so."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def run_worker_once(engine, config, clock: Clock, max_attempts: int = MAX_ATTEMPTS) -> int:  # noqa: ANN001
    """One step of the worker, as ``worker.run_cycle`` takes it, at the clock's time."""
    async def go() -> int:
        async with AsyncFetchClient(delivery_policy(config)) as client:
            return await delivery.run_once(engine, make_poster(client, owner_auth(engine, config)), concurrency=4,
                                           max_attempts=max_attempts, retry_after_cap=3600,
                                           unavailable_after=UNAVAILABLE_AFTER, lease=LEASE, clock=clock)
    return run_async(go)


def rows(engine) -> list:  # noqa: ANN001
    with engine.connect() as conn:
        return conn.execute(select(DELIVERIES).order_by(DELIVERIES.c.id)).all()


def save(make_bookmark, config, n: int = 0) -> str:  # noqa: ANN001
    """Save a public bookmark as the app does (its Create queued for every follower); the activity's id."""
    make_bookmark(f"https://example.org/fault/{n}", f"Fault {n}", federate=config)
    with make_bookmark.engine.connect() as conn:
        payload = conn.execute(select(OUTBOX_ACTIVITIES.c.payload).order_by(OUTBOX_ACTIVITIES.c.id.desc())
                               .limit(1)).scalar_one()
    return json.loads(payload)["id"]


# --- giving up -------------------------------------------------------------------------------------------------


def test_a_peer_that_always_fails_is_tried_max_attempts_times_then_given_up(engine, make_bookmark, loopback_config,
                                                                            inboxes):
    inboxes.answer = lambda path: (503, {})
    add_followers(engine, [inboxes.inbox(1)])
    save(make_bookmark, loopback_config)
    clock = Clock()
    for _ in range(MAX_ATTEMPTS + 3):  # more chances than it may take: the last ones must find nothing due
        run_worker_once(engine, loopback_config, clock)
        clock.advance(hours=1)         # past any backoff of five tries, long before the host counts as down
    (row,) = rows(engine)
    assert inboxes.posts["/inbox/1"] == MAX_ATTEMPTS
    assert row.state == "gave_up" and row.attempts == MAX_ATTEMPTS and row.last_status == 503


def test_the_last_allowed_attempt_still_counts_when_it_succeeds(engine, make_bookmark, loopback_config, inboxes):
    answers = [503] * (MAX_ATTEMPTS - 1) + [202]
    inboxes.answer = lambda path: (answers.pop(0), {})
    add_followers(engine, [inboxes.inbox(1)])
    uri = save(make_bookmark, loopback_config)
    clock = Clock()
    for _ in range(MAX_ATTEMPTS + 2):
        run_worker_once(engine, loopback_config, clock)
        clock.advance(hours=1)
    (row,) = rows(engine)
    assert row.state == "done" and row.attempts == MAX_ATTEMPTS
    assert inboxes.times(uri, "/inbox/1") == 1


# --- leases ----------------------------------------------------------------------------------------------------


def test_rows_leased_by_a_worker_that_died_are_taken_over_when_the_lease_ends(engine, make_bookmark,
                                                                             loopback_config, inboxes):
    add_followers(engine, [inboxes.inbox(n) for n in range(6)])
    uri = save(make_bookmark, loopback_config)
    clock = Clock()
    taken = delivery.claim(engine, 4, now=clock(), lease=LEASE)  # a worker takes four rows, then is killed
    assert len(taken) == 4
    clock.advance(seconds=LEASE.total_seconds() - 1)
    assert run_worker_once(engine, loopback_config, clock) == 2   # only the two rows nobody holds
    assert run_worker_once(engine, loopback_config, clock) == 0   # the dead worker's lease still holds
    assert inboxes.inboxes_reached(uri) == 2
    clock.advance(seconds=2)                                      # the lease has ended
    assert run_worker_once(engine, loopback_config, clock) == 4
    assert inboxes.inboxes_reached(uri) == 6 and inboxes.duplicates(uri) == 0
    assert {r.state for r in rows(engine)} == {"done"}
    assert all(r.claimed_until is None for r in rows(engine))


def test_a_live_lease_is_never_taken_twice(engine, make_bookmark, loopback_config, inboxes):
    add_followers(engine, [inboxes.inbox(n) for n in range(3)])
    save(make_bookmark, loopback_config)
    now = utcnow()
    first = delivery.claim(engine, 10, now=now, lease=LEASE)
    assert len(first) == 3
    assert delivery.claim(engine, 10, now=now + LEASE - timedelta(seconds=1), lease=LEASE) == []
    again = delivery.claim(engine, 10, now=now + LEASE + timedelta(seconds=1), lease=LEASE)
    assert sorted(c.id for c in again) == sorted(c.id for c in first)


# --- peers that refuse, throttle, or are gone ------------------------------------------------------------------


def test_410_gone_is_given_up_at_once(engine, make_bookmark, loopback_config, inboxes):
    inboxes.answer = lambda path: (410, {})
    add_followers(engine, [inboxes.inbox(1)])
    save(make_bookmark, loopback_config)
    clock = Clock()
    for _ in range(3):
        run_worker_once(engine, loopback_config, clock)
        clock.advance(days=1)
    (row,) = rows(engine)
    assert row.state == "gave_up" and row.attempts == 1 and row.last_status == 410
    assert inboxes.posts["/inbox/1"] == 1


def test_429_retry_after_is_waited_for_then_delivered(engine, make_bookmark, loopback_config, inboxes):
    answers = [(429, {"Retry-After": "600"})]
    inboxes.answer = lambda path: answers.pop(0) if answers else (202, {})
    add_followers(engine, [inboxes.inbox(1)])
    uri = save(make_bookmark, loopback_config)
    clock = Clock()
    run_worker_once(engine, loopback_config, clock)
    (row,) = rows(engine)
    assert row.state == "queued" and row.last_status == 429
    assert row.next_attempt_at >= clock.now + timedelta(seconds=600)
    clock.advance(seconds=590)
    assert run_worker_once(engine, loopback_config, clock) == 0      # asked to wait ten minutes: not yet
    clock.advance(seconds=11)
    assert run_worker_once(engine, loopback_config, clock) == 1
    assert rows(engine)[0].state == "done" and inboxes.times(uri, "/inbox/1") == 1
    assert inboxes.posts["/inbox/1"] == 2


def test_a_peer_down_for_two_days_gets_the_activity_once_it_is_back(engine, make_bookmark, loopback_config,
                                                                   inboxes):
    add_followers(engine, [inboxes.inbox(1)])
    uri = save(make_bookmark, loopback_config)
    inboxes.down()                                   # connection refused from now on
    clock = Clock()
    for _ in range(4):                               # two days, a try every twelve hours
        run_worker_once(engine, loopback_config, clock, max_attempts=16)
        clock.advance(hours=12)
    (row,) = rows(engine)
    assert row.state == "queued" and row.last_status is None and row.last_error
    with engine.connect() as conn:
        host = conn.execute(select(REMOTE_HOSTS)).one()
    assert host.failing_since is not None and host.unavailable is False
    inboxes.up()
    run_worker_once(engine, loopback_config, clock, max_attempts=16)
    assert rows(engine)[0].state == "done" and inboxes.times(uri, "/inbox/1") == 1
    with engine.connect() as conn:
        assert conn.execute(select(REMOTE_HOSTS.c.failing_since)).scalar_one() is None


def test_a_peer_down_for_days_is_marked_unavailable_and_skipped(engine, make_bookmark, loopback_config, inboxes):
    add_followers(engine, [inboxes.inbox(1)])
    save(make_bookmark, loopback_config, 1)
    inboxes.down()
    clock = Clock()
    for _ in range(8):                               # three and a half days, a try every twelve hours
        run_worker_once(engine, loopback_config, clock, max_attempts=16)
        clock.advance(hours=12)
    with engine.connect() as conn:
        assert conn.execute(select(REMOTE_HOSTS.c.unavailable)).scalar_one() is True
    inboxes.up()
    save(make_bookmark, loopback_config, 2)          # a new activity is not even tried while it is unavailable
    run_worker_once(engine, loopback_config, clock, max_attempts=16)
    newest = rows(engine)[-1]
    assert newest.state == "gave_up" and "unavailable" in newest.last_error and newest.attempts == 0
    assert inboxes.posts["/inbox/1"] == 0
