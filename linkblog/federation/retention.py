"""How long what strangers send us is kept: the prune the worker runs every hour (and ``linkblog prune``).

- A processed inbound activity keeps its body ``inbox_body_retention_days``, then only its row (the id, the
  actor, the type, the outcome): the id is all idempotence needs, so a redelivery is still a no-op.
- Its row goes after ``inbox_id_retention_days``, far beyond any sender's retries (Mastodon's give up within
  days). An activity still queued is never touched, however old.
- A finished delivery (done or given up) goes after ``delivery_retention_days``; queued ones are never touched.
- Inbox rate-limit windows that are over go at once.

Each step deletes (or empties) at most ``BATCH_SIZE`` rows per transaction, so SQLite's write lock is held
for a moment at a time, and a call does at most ``max_batches`` of them: a long backlog is worked off over
several calls rather than in one that stalls the worker.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import Connection, Engine, delete, select, text, update

from ..config import Config
from ..db import BATCH_SIZE, utcnow
from ..models import DELIVERIES, INBOX_ACTIVITIES, INBOX_RATES, INBOX_WITH_PAYLOAD
from ..states import DeliveryState, InboxState

log = logging.getLogger(__name__)
EVERY_SECONDS = 3600.0
FINISHED_DELIVERIES = (DeliveryState.DONE, DeliveryState.GAVE_UP)


@dataclass
class Pruned:
    """What one prune did, per kind of row; ``more`` when it stopped at ``max_batches`` with work left."""

    bodies: int = 0
    activities: int = 0
    deliveries: int = 0
    rate_windows: int = 0
    more: bool = False

    @property
    def total(self) -> int:
        return self.bodies + self.activities + self.deliveries + self.rate_windows


def _batches(engine: Engine, step: Callable[[Connection], int], budget: list[int]) -> tuple[int, bool]:
    """Run ``step(conn)`` (changes at most BATCH_SIZE rows, returns how many) until it does less than a
    batch or the shared budget of batches runs out; (rows changed, stopped with work left)."""
    total = 0
    while budget[0] > 0:
        budget[0] -= 1
        with engine.begin() as conn:
            changed = step(conn)
        total += changed
        if changed < BATCH_SIZE:
            return total, False
    return total, True


def prune(engine: Engine, config: Config, *, now: datetime | None = None, max_batches: int = 50) -> Pruned:
    """Empty old bodies, delete old ids, finished deliveries and spent rate windows; see the module doc."""
    now = now or utcnow()
    fed = lambda key: config.get("federation", key)  # noqa: E731
    body_cutoff = now - timedelta(days=fed("inbox_body_retention_days"))
    id_cutoff = now - timedelta(days=fed("inbox_id_retention_days"))
    delivery_cutoff = now - timedelta(days=fed("delivery_retention_days"))
    window_cutoff = now - timedelta(seconds=fed("inbox_rate_window"))
    processed = INBOX_ACTIVITIES.c.state != InboxState.QUEUED

    def empty_bodies(conn: Connection) -> int:
        ids = (select(INBOX_ACTIVITIES.c.id)
               .where(text(INBOX_WITH_PAYLOAD), INBOX_ACTIVITIES.c.received_at < body_cutoff, processed)
               .order_by(INBOX_ACTIVITIES.c.received_at).limit(BATCH_SIZE))
        return conn.execute(update(INBOX_ACTIVITIES).where(INBOX_ACTIVITIES.c.id.in_(ids.scalar_subquery()))
                            .values(payload="")).rowcount

    def delete_ids(conn: Connection) -> int:
        ids = (select(INBOX_ACTIVITIES.c.id).where(INBOX_ACTIVITIES.c.received_at < id_cutoff, processed)
               .order_by(INBOX_ACTIVITIES.c.received_at).limit(BATCH_SIZE))
        return conn.execute(delete(INBOX_ACTIVITIES).where(INBOX_ACTIVITIES.c.id.in_(ids.scalar_subquery()))
                            ).rowcount

    def delete_deliveries(conn: Connection) -> int:
        ids = (select(DELIVERIES.c.id).where(DELIVERIES.c.state.in_(FINISHED_DELIVERIES),
                                             DELIVERIES.c.updated_at < delivery_cutoff).limit(BATCH_SIZE))
        return conn.execute(delete(DELIVERIES).where(DELIVERIES.c.id.in_(ids.scalar_subquery()))).rowcount

    def delete_windows(conn: Connection) -> int:
        return conn.execute(delete(INBOX_RATES).where(INBOX_RATES.c.window_start < window_cutoff)).rowcount

    budget = [max_batches]
    result = Pruned()
    result.activities, more_ids = _batches(engine, delete_ids, budget)   # deleting first leaves fewer to empty
    result.bodies, more_bodies = _batches(engine, empty_bodies, budget)
    result.deliveries, more_deliveries = _batches(engine, delete_deliveries, budget)
    with engine.begin() as conn:
        result.rate_windows = delete_windows(conn)
    result.more = more_ids or more_bodies or more_deliveries
    return result


class Schedule:
    """When the worker prunes next: at once, then every ``every`` seconds, or at once again while a backlog
    is left (``monotonic`` is the clock, injectable for tests)."""

    def __init__(self, every: float = EVERY_SECONDS, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.every = every
        self.monotonic = monotonic
        self.next_run = 0.0

    def due(self) -> bool:
        return self.monotonic() >= self.next_run

    def ran(self, more: bool) -> None:
        self.next_run = self.monotonic() + (0.0 if more else self.every)


HOURLY = Schedule()   # the worker process's own


def prune_when_due(engine: Engine, config: Config, schedule: Schedule = HOURLY, *,
                   now: datetime | None = None) -> int:
    """The worker's prune, when ``schedule`` says it is due; how many rows it changed (0 when not due)."""
    if not schedule.due():
        return 0
    result = prune(engine, config, now=now)
    schedule.ran(result.more)
    if result.total:
        log.info("pruned %s inbox bodies, %s inbox ids, %s finished deliveries, %s rate windows", result.bodies,
                 result.activities, result.deliveries, result.rate_windows)
    return result.total


__all__ = ["EVERY_SECONDS", "HOURLY", "Pruned", "Schedule", "prune", "prune_when_due"]
