"""Durable delivery: one queued row per (activity, inbox), a pure retry policy, and a worker step.

Rows are written in the same transaction as the change that caused them (see ``publish.py``), so a crash
or restart loses nothing; ``run_once`` claims due rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so
several workers never send the same row), posts them concurrently with a bounded pool, and records the
outcome with backoff like Mastodon's (about 16 tries over two to three days, with jitter).
"""
from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Awaitable, Callable, Mapping

from sqlalchemy import Connection, Engine, bindparam, insert, or_, select, update

from ..db import dialect_insert, utcnow
from ..models import DELIVERIES, OUTBOX_ACTIVITIES, REMOTE_HOSTS
from ..states import DeliveryState
from ..urls import host_of
from .doorbell import ring
from .health import retry_on_disconnect

log = logging.getLogger(__name__)
LEASE = timedelta(minutes=5)  # the default of [federation] delivery_lease
RETRYABLE_4XX = {401, 408, 429}


@dataclass(frozen=True)
class Outcome:
    """What one attempt did: ``status`` None means the request never got an answer (timeout, refused)."""

    status: int | None
    retry_after: float | None = None
    error: str = ""
    permanent: bool = False  # refused before sending (e.g. a blocked address): retrying cannot help


Poster = Callable[[str, bytes, bool], Awaitable[Outcome]]
"""``post(inbox, body, keep_alive)``: ``keep_alive`` False when no other row of the batch goes to that host."""


class Decision(StrEnum):
    """What the policy makes of one answer; ``record`` maps it onto the stored ``DeliveryState``."""

    DONE = "done"
    RETRY = "retry"
    GIVE_UP = "give_up"


def backoff(attempts: int, rng: random.Random | None = None) -> timedelta:
    """Delay before try number ``attempts + 1``: attempts⁴ + 15 s plus jitter, as Sidekiq/Mastodon do."""
    rng = rng or random.Random()
    return timedelta(seconds=attempts**4 + 15 + rng.randint(0, 9) * (attempts + 1))


def decide(outcome: Outcome) -> Decision:
    """DONE, RETRY or GIVE_UP for one answer; the retry count is checked by the caller."""
    status = outcome.status
    if outcome.permanent:
        return Decision.GIVE_UP
    if status is None or status >= 500 or status in RETRYABLE_4XX:
        return Decision.RETRY
    if 200 <= status < 300:
        return Decision.DONE
    return Decision.GIVE_UP  # other 4xx (and odd 1xx/3xx): the peer will never take it


def next_attempt(outcome: Outcome, attempts: int, now: datetime, retry_after_cap: int,
                 rng: random.Random | None = None) -> datetime:
    delay = backoff(attempts, rng)
    if outcome.retry_after is not None:
        delay = max(delay, timedelta(seconds=min(max(outcome.retry_after, 0), retry_after_cap)))
    return now + delay


# --- queueing ------------------------------------------------------------------------------------------------


def queue(conn: Connection, *, uri: str, type_: str, object_uri: str, payload: str, public: bool,
          inboxes: list[str]) -> int:
    """Store the activity and one delivery row per inbox, inside the caller's transaction."""
    now = utcnow()
    activity_id = conn.execute(insert(OUTBOX_ACTIVITIES)
                               .values(uri=uri, type=type_, object_uri=object_uri, payload=payload, public=public,
                                       created_at=now).returning(OUTBOX_ACTIVITIES.c.id)).scalar_one()
    unique = sorted(set(inboxes))
    if unique:
        conn.execute(insert(DELIVERIES), [{"activity_id": activity_id, "inbox": inbox, "host": host_of(inbox),
                                           "state": DeliveryState.QUEUED, "attempts": 0, "next_attempt_at": now,
                                           "last_error": "", "created_at": now, "updated_at": now}
                                          for inbox in unique])
        ring(conn)
    return activity_id


# --- the worker step -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    id: int
    inbox: str
    host: str
    attempts: int
    payload: str


def claim(engine: Engine, limit: int, now: datetime | None = None, lease: timedelta = LEASE) -> list[Claimed]:
    """Lease due rows to this worker until ``now + lease``; concurrent workers skip rows another one holds,
    and take over those whose lease has ended (their worker died mid-batch)."""
    now = now or utcnow()
    due = (select(DELIVERIES.c.id)
           .where(DELIVERIES.c.state == DeliveryState.QUEUED, DELIVERIES.c.next_attempt_at <= now,
                  or_(DELIVERIES.c.claimed_until.is_(None), DELIVERIES.c.claimed_until < now))
           .order_by(DELIVERIES.c.next_attempt_at, DELIVERIES.c.id).limit(limit))
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            due = due.with_for_update(skip_locked=True)
        # One UPDATE ... WHERE id IN (SELECT ...) RETURNING: atomic on SQLite too, where two workers that
        # first read and then wrote could both take the same rows.
        ids = list(conn.execute(update(DELIVERIES).where(DELIVERIES.c.id.in_(due)).values(claimed_until=now + lease)
                                .returning(DELIVERIES.c.id)).scalars())
        if not ids:
            return []
        rows = conn.execute(select(DELIVERIES.c.id, DELIVERIES.c.inbox, DELIVERIES.c.host, DELIVERIES.c.attempts,
                                   OUTBOX_ACTIVITIES.c.payload)
                            .join(OUTBOX_ACTIVITIES, OUTBOX_ACTIVITIES.c.id == DELIVERIES.c.activity_id)
                            .where(DELIVERIES.c.id.in_(ids))).all()
        unavailable = set(conn.execute(select(REMOTE_HOSTS.c.host)
                                       .where(REMOTE_HOSTS.c.host.in_({r.host for r in rows}),
                                              REMOTE_HOSTS.c.unavailable.is_(True))).scalars())
        skipped = [r.id for r in rows if r.host in unavailable]
        if skipped:
            conn.execute(update(DELIVERIES).where(DELIVERIES.c.id.in_(skipped)).values(
                state=DeliveryState.GAVE_UP, claimed_until=None, updated_at=now,
                last_error="host marked unavailable after failing for days; skipped"))
    return [Claimed(r.id, r.inbox, r.host, r.attempts, r.payload) for r in rows if r.host not in unavailable]


def record(engine: Engine, results: Mapping[Claimed, Outcome], *, max_attempts: int, retry_after_cap: int,
           unavailable_after: timedelta, now: datetime | None = None, rng: random.Random | None = None) -> None:
    """Write every outcome, and each host's health, in one transaction, with a few batched statements
    (a fan-out to a thousand inboxes must not cost three statements per row)."""
    now = now or utcnow()
    finished: list[dict] = []
    retried: list[dict] = []
    healthy: set[str] = set()
    failing: set[str] = set()
    for item, outcome in results.items():
        attempts = item.attempts + 1
        verdict = decide(outcome)
        if verdict == Decision.RETRY and attempts >= max_attempts:
            verdict = Decision.GIVE_UP
        row = {"_id": item.id, "attempts": attempts, "last_status": outcome.status,
               "last_error": outcome.error[:1000]}
        if verdict == Decision.RETRY:
            retried.append({**row, "next_attempt_at": next_attempt(outcome, item.attempts, now, retry_after_cap, rng)})
        else:
            finished.append({**row, "state": DeliveryState.DONE if verdict == Decision.DONE else DeliveryState.GAVE_UP})
        # a 4xx answer still shows the host is up; only 5xx and no answer count against it
        (healthy if outcome.status is not None and outcome.status < 500 else failing).add(item.host)
    failing -= healthy
    common = {"attempts": bindparam("attempts"), "last_status": bindparam("last_status"),
              "last_error": bindparam("last_error"), "claimed_until": None, "updated_at": now}
    with engine.begin() as conn:
        if finished:
            conn.execute(update(DELIVERIES).where(DELIVERIES.c.id == bindparam("_id"))
                         .values(**common, state=bindparam("state")), finished)
        if retried:
            conn.execute(update(DELIVERIES).where(DELIVERIES.c.id == bindparam("_id"))
                         .values(**common, next_attempt_at=bindparam("next_attempt_at")), retried)
        _hosts_health(conn, healthy, failing, now=now, unavailable_after=unavailable_after)


def _hosts_health(conn: Connection, healthy: set[str], failing: set[str], *, now: datetime,
                  unavailable_after: timedelta) -> None:
    hosts = healthy | failing
    if not hosts:
        return
    known = {r.host: r for r in conn.execute(select(REMOTE_HOSTS).where(REMOTE_HOSTS.c.host.in_(hosts)))}
    new = [{"host": h, "failing_since": None if h in healthy else now, "last_success_at": now if h in healthy
            else None, "unavailable": False} for h in sorted(hosts - known.keys())]
    if new:
        # Another delivery process may be recording its first answer from the same host right now: whichever
        # commits second must not fail (its whole batch would stay leased, then be sent again).
        conn.execute(dialect_insert(conn, REMOTE_HOSTS).on_conflict_do_nothing(index_elements=["host"]), new)
    recovered = [h for h in healthy if h in known and (known[h].failing_since is not None or known[h].unavailable
                                                       or known[h].last_success_at is None
                                                       or now - known[h].last_success_at > timedelta(minutes=5))]
    if recovered:
        conn.execute(update(REMOTE_HOSTS).where(REMOTE_HOSTS.c.host.in_(recovered))
                     .values(failing_since=None, last_success_at=now, unavailable=False))
    for host in failing & known.keys():
        row = known[host]
        if row.failing_since is None:
            conn.execute(update(REMOTE_HOSTS).where(REMOTE_HOSTS.c.host == host).values(failing_since=now))
        elif now - row.failing_since >= unavailable_after and not row.unavailable:
            log.warning("delivery: %s has failed since %s; marking it unavailable", host, row.failing_since)
            conn.execute(update(REMOTE_HOSTS).where(REMOTE_HOSTS.c.host == host).values(unavailable=True))


def host_is_back(conn: Connection, host: str) -> None:
    """A host that sends us something is reachable again. Read first: nearly always it was never failing,
    and a read is much cheaper than an UPDATE on every inbox POST."""
    failing = conn.execute(_FAILING, {"host": host.lower()}).first()
    if failing is not None:
        conn.execute(update(REMOTE_HOSTS).where(REMOTE_HOSTS.c.host == host.lower())
                     .values(unavailable=False, failing_since=None))


_FAILING = select(REMOTE_HOSTS.c.host).where(REMOTE_HOSTS.c.host == bindparam("host"),
                                             or_(REMOTE_HOSTS.c.unavailable.is_(True),
                                                 REMOTE_HOSTS.c.failing_since.is_not(None)))


async def deliver_all(items: list[Claimed], post: Poster, concurrency: int) -> dict[Claimed, Outcome]:
    """Post every claimed row, at most ``concurrency`` at a time; errors become outcomes, never exceptions.
    The last row for a host asks for its connection to be closed: in a fan-out to distinct hosts none would
    ever be reused, and idle pooled connections cost CPU on every request (httpcore checks each of them)."""
    gate = asyncio.Semaphore(concurrency)
    left = Counter(item.host for item in items)
    bodies = {payload: payload.encode("utf-8") for payload in {item.payload for item in items}}

    async def one(item: Claimed) -> tuple[Claimed, Outcome]:
        async with gate:
            left[item.host] -= 1
            try:
                return item, await post(item.inbox, bodies[item.payload], left[item.host] > 0)
            except Exception as exc:  # noqa: BLE001  (a broken peer must not stop the batch)
                return item, Outcome(status=None, error=f"{type(exc).__name__}: {exc}")

    return dict(await asyncio.gather(*(one(item) for item in items)))


async def run_once(engine: Engine, post: Poster, *, concurrency: int, max_attempts: int, retry_after_cap: int,
                   unavailable_after: timedelta, batch: int | None = None, lease: timedelta = LEASE,
                   clock: Callable[[], datetime] = utcnow) -> int:
    """Claim one batch of due deliveries, send them, record the outcomes; returns how many were attempted.
    ``clock`` gives the time rows are due, leased and retried at (tests move it instead of waiting); a
    connection lost under the claim or the record is taken again (``health.retry_on_disconnect``), so the batch
    is not left leased by a database blip."""
    items = await asyncio.to_thread(retry_on_disconnect, lambda: claim(engine, batch or concurrency * 4,
                                                                      clock(), lease))
    if not items:
        return 0
    results = await deliver_all(items, post, concurrency)
    await asyncio.to_thread(retry_on_disconnect, lambda: record(
        engine, results, max_attempts=max_attempts, retry_after_cap=retry_after_cap,
        unavailable_after=unavailable_after, now=clock()))
    for item, outcome in results.items():
        if decide(outcome) != Decision.DONE:
            log.info("delivery %s to %s: %s %s", item.id, item.inbox, outcome.status, outcome.error)
    return len(items)


def pending_count(conn: Connection) -> int:
    from sqlalchemy import func

    return conn.execute(select(func.count()).select_from(DELIVERIES)
                        .where(DELIVERIES.c.state == DeliveryState.QUEUED)).scalar_one()


__all__ = ["Outcome", "Decision", "Claimed", "backoff", "decide", "next_attempt", "queue", "claim",
           "record", "deliver_all", "run_once", "host_is_back", "pending_count"]
