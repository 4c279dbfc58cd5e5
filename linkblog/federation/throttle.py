"""The inbox's rate limit per remote host: ``[federation] inbox_rate_limit`` POSTs per ``inbox_rate_window``
seconds, then 429 with Retry-After until the window is over.

The host is the one in the signature's keyId (RFC 9421 ``keyid`` or draft-cavage ``keyId``), read before
anything is verified, so a flood costs neither a key fetch nor an RSA check. The counters live in the
database (``inbox_rates``, one row per host and fixed window, bumped with one upsert): every gunicorn
worker process (and, with PostgreSQL, every machine) shares them, where per-process counters would let
each process take the whole budget and forget it on every restart. On one small VPS that costs one short
write per inbox POST, next to the write that stores an accepted activity anyway.

A stranger can sign with a keyId on someone else's host and spend that host's budget: the worst it does
is make us answer 429 to that host for the rest of the window, and senders retry a 429 (Mastodon,
Misskey, GoToSocial and linkblog all do), so the activity arrives late, not never.
"""
from __future__ import annotations

import math
import re
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


def _bump(dialect: str) -> Any:
    """One upsert that counts a POST and returns the window's count (built once: see ``db.prebuilt``)."""
    return (insert_for(dialect, INBOX_RATES)
            .on_conflict_do_update(index_elements=["host", "window_start"], set_={"count": INBOX_RATES.c.count + 1})
            .returning(INBOX_RATES.c.count))


def check(engine: Engine, config: Config, headers: Mapping[str, str], *, now: datetime) -> Throttled | None:
    """Count this POST against its host's window; a ``Throttled`` once it is over the limit."""
    limit = config.get("federation", "inbox_rate_limit")
    host = sender_host(headers)
    if not limit or host is None:
        return None
    seconds = config.get("federation", "inbox_rate_window")
    start = window_of(now, seconds)
    with engine.begin() as conn:
        count = conn.execute(prebuilt(conn, "inbox_rates.bump", _bump),
                             {"host": host, "window_start": start, "count": 1}).scalar_one()
    if count <= limit:
        return None
    left = (start + timedelta(seconds=seconds) - now).total_seconds()
    return Throttled(host, max(1, math.ceil(left)))


__all__ = ["Throttled", "check", "sender_host", "window_of"]
