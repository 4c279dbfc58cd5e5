"""The inbox's rate limit per remote host: ``[federation] inbox_rate_limit`` POSTs per ``inbox_rate_window``
seconds, then 429 with Retry-After until the window is over.

The host is the one in the signature's keyId (RFC 9421 ``keyid`` or draft-cavage ``keyId``), read before
anything is verified, so a flood costs neither a key fetch nor an RSA check. The counters live in the
database (``inbox_rates``, one row per host and fixed window): every gunicorn worker process (and, with
PostgreSQL, every machine) shares them, where per-process counters would let each process take the whole
budget and forget it on every restart.

A process claims its share of a host's window in small chunks (``claim_size``: 1 for limits under 64, about
1/32 of the limit above) with one upsert, and admits POSTs from the chunk without writing again; a host whose
window is spent is refused from memory. Writing the count for every POST cost a write transaction per POST,
the most expensive step of a verified one. No host is ever admitted beyond its limit (every admitted POST is
part of a claim the shared count granted); a chunk a process claimed and did not use before the window
ended is lost, so a host spreading its POSTs over ``n`` processes may be refused up to
``n * (claim_size - 1)`` POSTs early. With small limits the count is exact, as before.

A stranger can sign with a keyId on someone else's host and spend that host's budget: the worst it does
is make us answer 429 to that host for the rest of the window, and senders retry a 429 (Mastodon,
Misskey, GoToSocial and linkblog all do), so the activity arrives late, not never.
"""
from __future__ import annotations

import math
import os
import re
import threading
import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Mapping
from urllib.parse import urlsplit

from sqlalchemy import Engine

from ..config import Config
from ..db import insert_for, prebuilt
from ..models import INBOX_RATES

_KEY_ID = re.compile(r'keyid\s*=\s*"([^"]{1,2048})"', re.IGNORECASE)
_HOST_MAX = 255


@dataclass(frozen=True)
class Throttled:
    """Over the limit: answer 429 and ask to come back in ``retry_after`` seconds."""

    host: str
    retry_after: int


def sender_host(headers: Mapping[str, str]) -> str | None:
    """The host (with its port) of the keyId a POST is signed with, or None when it names none."""
    for name in ("signature-input", "signature"):
        value = next((v for k, v in headers.items() if k.lower() == name), None)
        found = _KEY_ID.search(value or "")
        if found:
            try:
                host = urlsplit(found.group(1)).netloc.lower()
            except ValueError:
                return None
            return host[:_HOST_MAX] or None
    return None


def window_of(now: datetime, seconds: int) -> datetime:
    """The start of the fixed window ``now`` falls in (windows are aligned to the epoch)."""
    epoch = datetime(1970, 1, 1)
    elapsed = (now - epoch) // timedelta(seconds=seconds)
    return epoch + timedelta(seconds=elapsed * seconds)


def claim_size(limit: int) -> int:
    """POSTs a process claims from a host's window at once: exact counting (1) under 64, at most 16."""
    return max(1, min(CLAIM_MAX, limit // CLAIM_SHARE))


CLAIM_SHARE = 32   # a claim is at most 1/32 of the limit ...
CLAIM_MAX = 16     # ... and 16 POSTs: 300 a minute (the default) claims 9 at a time
_BUDGETS_MAX = 4096   # (host, window) entries a process remembers; the oldest go first


Key = tuple[str, datetime, int, int]   # host, window start, limit, window seconds
SPENT = -1


class Budgets:
    """What this process may still admit per (host, window, limit, window length) from what it claimed of
    the shared count, or ``SPENT`` once the shared count says the window is used up (it only grows within
    a window, so that stays true). One per engine (database) and process; its threads share it."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self._lock = threading.Lock()
        self._left: dict[Key, int] = {}

    def take(self, key: Key) -> bool | None:
        """True: admitted from a claim; False: the window is spent; None: nothing claimed, ask the database."""
        with self._lock:
            left = self._left.get(key, 0)
            if left == SPENT:
                return False
            if left == 0:
                return None
            self._left[key] = left - 1
            return True

    def put(self, key: Key, left: int) -> None:
        """Remember ``left`` admits (or ``SPENT``) for ``key``; the oldest entry goes when there are too many."""
        with self._lock:
            if key not in self._left and len(self._left) >= _BUDGETS_MAX:
                self._left.pop(next(iter(self._left)))
            self._left[key] = left


_budgets: weakref.WeakKeyDictionary[Engine, Budgets] = weakref.WeakKeyDictionary()
_budgets_lock = threading.Lock()


def budgets(engine: Engine) -> Budgets:
    """This process's budgets on ``engine``'s database (a forked process starts with none of its parent's)."""
    with _budgets_lock:
        found = _budgets.get(engine)
        if found is None or found.pid != os.getpid():
            found = _budgets[engine] = Budgets()
        return found


def _bump(dialect: str) -> Any:
    """One upsert that adds a claim to the window's count and returns the new count (built once: see
    ``db.prebuilt``)."""
    insert = insert_for(dialect, INBOX_RATES)
    return (insert.on_conflict_do_update(index_elements=["host", "window_start"],
                                         set_={"count": INBOX_RATES.c.count + insert.excluded.count})
            .returning(INBOX_RATES.c.count))


def check(engine: Engine, config: Config, headers: Mapping[str, str], *, now: datetime) -> Throttled | None:
    """Count this POST against its host's window; a ``Throttled`` once it is over the limit."""
    limit = config.get("federation", "inbox_rate_limit")
    host = sender_host(headers)
    if not limit or host is None:
        return None
    seconds = config.get("federation", "inbox_rate_window")
    start = window_of(now, seconds)
    key, mine = (host, start, limit, seconds), budgets(engine)
    admitted = mine.take(key)
    if admitted is None:
        claim = claim_size(limit)
        with engine.begin() as conn:
            count = conn.execute(prebuilt(conn, "inbox_rates.claim", _bump),
                                 {"host": host, "window_start": start, "count": claim}).scalar_one()
        granted = max(0, min(claim, limit - (count - claim)))   # what of this claim is within the limit
        admitted = granted > 0
        mine.put(key, granted - 1 if admitted else SPENT)
    if admitted:
        return None
    left = (start + timedelta(seconds=seconds) - now).total_seconds()
    return Throttled(host, max(1, math.ceil(left)))


__all__ = ["Budgets", "Throttled", "budgets", "check", "claim_size", "sender_host", "window_of"]
