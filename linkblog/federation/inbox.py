"""The inbox worker: received activities are stored by the inbox route, then applied here one by one.

``store`` queues a verified activity as an ``inbox_activities`` row. ``process_pending`` takes queued rows
in id order, each in its own transaction: the row is claimed (state moves off ``queued`` only in the
transaction that applies its effects, so a crash or a second worker never applies it twice), then its
handler (:mod:`.handlers`) runs. A handler that needs a document we do not have raises
``NeedDocument``; the transaction is rolled back, the document fetched with no transaction open, and the
row retried.

Rows end ``done`` (it did something), ``ignored`` (nothing here concerns us) or ``failed`` (a fetch
or the data itself went wrong; ``error`` says why).
"""
from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any, Mapping

from sqlalchemy import Connection, Engine, select, update

from ..config import Config
from ..db import insert_ignoring, utcnow
from ..models import INBOX_ACTIVITIES
from ..states import InboxState
from . import keys
from .doorbell import ring
from .handlers import Context, NeedDocument, handle
from .limits import Limits, trim
from .net import FetchClient, FetchError
from .reading import as_list

log = logging.getLogger(__name__)


# --- storing (called by the inbox route) -------------------------------------------------------------------


def store(conn: Connection, activity: Mapping[str, Any], actor: str, *, now: datetime | None = None,
          limits: Limits | None = None) -> bool:
    """Queue a verified activity, trimmed to ``limits`` (what is dropped is never stored); False when its
    id is already stored (a repeat delivery)."""
    activity = trim(activity, limits or Limits())
    kind = next((k for k in as_list(activity.get("type")) if isinstance(k, str)), "")
    values = {"uri": activity["id"], "actor_uri": actor, "type": kind[:64],
              "payload": json.dumps(activity, separators=(",", ":"), ensure_ascii=False),
              "state": InboxState.QUEUED, "error": "", "received_at": now or utcnow()}
    stored = insert_ignoring(conn, INBOX_ACTIVITIES, values, ["uri"])
    if stored:
        ring(conn)
    return stored


# --- the worker step ---------------------------------------------------------------------------------------


def _as_fetch(engine: Engine, config: Config, fetcher: Any) -> Any:
    if isinstance(fetcher, FetchClient):
        from .fetcher import SignedFetcher

        return SignedFetcher(fetcher, engine, config)
    return fetcher


def _finish(engine: Engine, row_id: int, state: InboxState, error: str, now: datetime) -> None:
    with engine.begin() as conn:
        conn.execute(update(INBOX_ACTIVITIES).where(INBOX_ACTIVITIES.c.id == row_id,
                                                    INBOX_ACTIVITIES.c.state == InboxState.QUEUED)
                     .values(state=state, error=error[:1000], processed_at=now))


def _process_one(engine: Engine, config: Config, fetch: Any, row_id: int) -> bool:
    """Apply one row; True when it was ours to apply (another worker may have taken it)."""
    documents: dict[str, dict[str, Any]] = {}
    refreshed: set[str] = set()
    limits = Limits.of(config)
    for _ in range(4):
        now = utcnow()
        try:
            with engine.begin() as conn:
                claimed = conn.execute(update(INBOX_ACTIVITIES)
                                       .where(INBOX_ACTIVITIES.c.id == row_id,
                                              INBOX_ACTIVITIES.c.state == InboxState.QUEUED)
                                       .values(state=InboxState.DONE, processed_at=now, error=""))
                if claimed.rowcount != 1:
                    return False
                row = conn.execute(select(INBOX_ACTIVITIES.c.payload, INBOX_ACTIVITIES.c.actor_uri)
                                   .where(INBOX_ACTIVITIES.c.id == row_id)).one()
                activity = trim(json.loads(row.payload), limits)   # rows stored before the limits, or tighter ones
                if not isinstance(activity, dict) or not isinstance(activity.get("id"), str):
                    raise ValueError("stored payload is not an activity")
                ctx = Context(conn, config, activity, row.actor_uri, now, documents, refreshed)
                state = handle(ctx)
                if state != InboxState.DONE:
                    conn.execute(update(INBOX_ACTIVITIES).where(INBOX_ACTIVITIES.c.id == row_id).values(state=state))
            return True
        except NeedDocument as need:
            try:
                if need.kind == "actor":
                    keys.fetch_actor(engine, need.url, lambda url: trim(fetch(url), limits), now=now)
                    refreshed.add(need.url)
                else:
                    documents[need.url] = trim(fetch(need.url), limits)
            except (FetchError, ValueError) as exc:
                _finish(engine, row_id, InboxState.FAILED, f"fetching {need.url}: {exc}", now)
                return True
        except Exception as exc:  # noqa: BLE001  (one bad row must not stop the queue)
            log.exception("inbox: processing activity row %s failed", row_id)
            _finish(engine, row_id, InboxState.FAILED, f"{type(exc).__name__}: {exc}", utcnow())
            return True
    _finish(engine, row_id, InboxState.FAILED, "needed too many documents", utcnow())
    return True


def process_pending(engine: Engine, config: Config, fetcher: Any, limit: int = 50) -> int:
    """Process up to ``limit`` queued rows in id order; returns how many this call processed.
    ``fetcher`` is a FetchClient (fetches are then signed with the owner's key) or a ``client.Fetch``."""
    fetch = _as_fetch(engine, config, fetcher)
    with engine.connect() as conn:
        ids = conn.execute(select(INBOX_ACTIVITIES.c.id).where(INBOX_ACTIVITIES.c.state == InboxState.QUEUED)
                           .order_by(INBOX_ACTIVITIES.c.id).limit(limit)
                           ).scalars().all()
    return sum(1 for row_id in ids if _process_one(engine, config, fetch, row_id))


__all__ = ["process_pending", "store"]
