"""Waking the worker the moment work is committed, instead of at its next poll.

Without it an idle worker looks for work once a second, so a bookmark saved at the wrong moment reaches no
follower for up to a second, and a fan-out that takes 1.5 s takes 2.5. The bell costs no polling of the
tables:

- **PostgreSQL**: the transaction that queues work runs ``NOTIFY linkblog_work`` (``ring``), which
  PostgreSQL delivers at commit to the worker's ``LISTEN`` connection;
- **SQLite**: every commit by another connection changes ``PRAGMA data_version``, which the worker reads
  from its own connection every 50 ms (a read of the WAL index in shared memory: no disk, no lock).

The worker's loops still poll once a second, so a missed ring (a dropped connection) only costs latency.
"""
from __future__ import annotations

import logging
import threading
from typing import Any, Callable

from sqlalchemy import Connection, Engine, text

log = logging.getLogger(__name__)
CHANNEL = "linkblog_work"
SQLITE_POLL = 0.05


def ring(conn: Connection) -> None:
    """Inside the transaction that queued work: wake the worker when it commits (PostgreSQL); on SQLite the
    commit itself is the signal."""
    if conn.dialect.name == "postgresql":
        conn.execute(text(f"NOTIFY {CHANNEL}"))


class Doorbell:
    """A thread with a database connection of its own that calls ``wake()`` whenever another connection
    may have committed work. ``close()`` stops it."""

    def __init__(self, engine: Engine, wake: Callable[[], None]) -> None:
        self.engine, self.wake = engine, wake
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="linkblog-doorbell", daemon=True)

    def start(self) -> Doorbell:
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                raw = self.engine.raw_connection()
            except Exception as exc:  # noqa: BLE001  (the loops' own database watch decides what is fatal)
                log.debug("doorbell: no connection (%s); the worker polls meanwhile", exc)
                self._stop.wait(1.0)
                continue
            try:
                listen = self._postgresql if self.engine.dialect.name == "postgresql" else self._sqlite
                listen(raw.driver_connection)
            except Exception as exc:  # noqa: BLE001
                log.debug("doorbell: connection lost (%s); listening again", exc)
                self._stop.wait(1.0)
            finally:
                try:
                    raw.invalidate()  # never hand a LISTENing connection back to the pool
                except Exception:  # noqa: BLE001
                    pass

    def _sqlite(self, connection: Any) -> None:
        def version() -> int:
            return connection.execute("PRAGMA data_version").fetchone()[0]

        seen = version()
        while not self._stop.wait(SQLITE_POLL):
            now = version()
            if now != seen:
                seen = now
                self.wake()

    def _postgresql(self, connection: Any) -> None:
        connection.autocommit = True
        connection.execute(f"LISTEN {CHANNEL}")
        while not self._stop.is_set():
            rung = False
            for _ in connection.notifies(timeout=0.5):
                rung = True
                break
            if rung:
                # Drain what else arrived (a batch of commits is one wake-up).
                for _ in connection.notifies(timeout=0.0):
                    pass
                self.wake()


__all__ = ["CHANNEL", "Doorbell", "ring"]
