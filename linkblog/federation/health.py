"""The worker's health: a heartbeat the owner can see, and when a database failure becomes fatal.

A worker that dies or hangs must not go unnoticed: each worker process keeps one ``worker_health`` row
(``host:pid``) with when its loop last ran and when it last did work, and the delivery page shows them.
A worker whose database stays unreachable for ``DATABASE_PATIENCE`` seconds stops with a ``WorkerFatal``
(``linkblog worker`` then exits non-zero), so systemd or ``linkblog serve`` restarts it with backoff instead
of it looping on errors forever; shorter blips (a restart of PostgreSQL, a dropped connection, a lock held
for a few seconds) are retried and survived.
"""
from __future__ import annotations

import logging
import os
import socket
import time
from datetime import datetime, timedelta
from typing import Callable, TypeVar

from sqlalchemy import Engine, delete
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from ..db import dialect_insert, utcnow
from ..models import WORKER_HEALTH

log = logging.getLogger(__name__)
T = TypeVar("T")

BEAT_SECONDS = 5.0               # an idle worker writes its heartbeat this often (a busy one every cycle)
DATABASE_PATIENCE = 20.0         # seconds of an unreachable database before the worker gives up
FORGET_AFTER = timedelta(days=7)  # rows of workers gone this long are removed when a worker starts


class WorkerFatal(Exception):
    """The worker cannot go on (its database has been unreachable too long); the message says why."""


def is_database_down(exc: BaseException) -> bool:
    """A failure of the database connection itself (unreachable, dropped, locked too long), as opposed to a
    bad row or a bug: only these count towards ``DATABASE_PATIENCE``."""
    if isinstance(exc, (OperationalError, InterfaceError)):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


class DatabaseWatch:
    """Tells when database failures have lasted too long: ``failed(exc)`` is True once the database has
    been failing without a break for ``patience`` seconds; ``ok()`` after any success starts over."""

    def __init__(self, patience: float | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.patience = DATABASE_PATIENCE if patience is None else patience
        self.clock = clock
        self.since: float | None = None

    def ok(self) -> None:
        self.since = None

    def failed(self, exc: BaseException) -> bool:
        if not is_database_down(exc):
            return False
        now = self.clock()
        if self.since is None:
            self.since = now
        log.warning("worker: the database failed (%s); retrying for up to %.0f s",
                    str(exc).splitlines()[0][:300], self.patience - (now - self.since))
        return now - self.since >= self.patience

    def fatal(self, exc: BaseException) -> WorkerFatal:
        return WorkerFatal(f"the database has been unreachable for {self.patience:.0f} s "
                           f"({str(exc).splitlines()[0][:300]}); check that it is running and that "
                           "[database] url is right. Exiting so that the service manager restarts the worker.")


def with_patience(step: Callable[[], T], watch: DatabaseWatch, wait: Callable[[float], None] = time.sleep) -> T:
    """Run ``step`` (a start-up read such as the owner's key) until it succeeds, retrying database failures
    for the watch's patience; anything else, and a database that stays down, raises."""
    delay = 0.5
    while True:
        try:
            result = step()
        except Exception as exc:  # noqa: BLE001  (re-raised below unless it is the database being down)
            if not is_database_down(exc):
                raise
            if watch.failed(exc):
                raise watch.fatal(exc) from exc
            wait(delay)
            delay = min(delay * 2, 5.0)
            continue
        watch.ok()
        return result


def retry_on_disconnect(step: Callable[[], T], attempts: int = 3, pause: float = 0.2) -> T:
    """Run ``step`` (one short transaction) again when its connection was lost under it (PostgreSQL
    restarted, or ``pg_terminate_backend``): ``pool_pre_ping`` tests a connection only when it leaves the
    pool, not one that dies while in use. The lost transaction was rolled back, so running it again is safe
    for steps that read what they change (the worker's claim and record do)."""
    for attempt in range(attempts):
        try:
            return step()
        except DBAPIError as exc:
            if not exc.connection_invalidated or attempt == attempts - 1:
                raise
            time.sleep(pause * (attempt + 1))
    raise AssertionError("unreachable")


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:255]


class Heartbeat:
    """This worker's ``worker_health`` row: ``beat(found)`` after every cycle writes it when work was done,
    and otherwise at most every ``BEAT_SECONDS`` (an idle worker costs one small write every few seconds)."""

    def __init__(self, engine: Engine, name: str | None = None, clock: Callable[[], datetime] = utcnow) -> None:
        self.engine = engine
        self.name = name or worker_name()
        self.clock = clock
        self.started = clock()
        self.written: datetime | None = None
        try:
            with engine.begin() as conn:
                conn.execute(delete(WORKER_HEALTH).where(WORKER_HEALTH.c.beat_at < self.started - FORGET_AFTER))
        except Exception as exc:  # noqa: BLE001  (housekeeping only; the loop's own checks see a dead database)
            log.warning("worker: could not prune old heartbeats: %s", exc)

    def beat(self, found: int) -> None:
        now = self.clock()
        if not found and self.written is not None and (now - self.written).total_seconds() < BEAT_SECONDS:
            return
        values = {"beat_at": now, **({"progress_at": now} if found else {})}
        try:
            with self.engine.begin() as conn:
                conn.execute(dialect_insert(conn, WORKER_HEALTH)
                             .values(name=self.name, started_at=self.started, **values)
                             .on_conflict_do_update(index_elements=["name"], set_=values))
        except Exception as exc:  # noqa: BLE001  (a heartbeat must never stop the work it reports on)
            log.warning("worker: could not write the heartbeat: %s", str(exc).splitlines()[0][:300])
            return
        self.written = now


__all__ = ["WorkerFatal", "DatabaseWatch", "Heartbeat", "is_database_down", "with_patience", "retry_on_disconnect",
           "worker_name",
           "BEAT_SECONDS", "DATABASE_PATIENCE"]
