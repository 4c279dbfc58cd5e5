"""One POST to our inbox, as far as it goes inside the request: verify it, store it, give the answer;
the worker does the rest.

Nothing here takes a lock or holds a transaction while the network is in use: a peer may deliver its
Accept while our Follow to it is still open, or fetch our actor while we fetch its key, and both
requests must make progress. The only network use is the key fetch inside ``verify.verify_inbox``;
the write transaction that stores the activity starts after it has returned. Whatever the key server
does, the answer comes within ``[federation] fetch_timeout``: every fetch of one request shares that one
deadline, and takes one of the process's few fetch slots (503 when they are all busy).
"""
from __future__ import annotations

from datetime import datetime
from typing import Mapping

from sqlalchemy import Engine

from ..config import Config
from ..urls import host_of
from . import delivery, inbox, throttle, verify
from .fetcher import request_deadline, signed_fetcher
from .limits import Limits
from .signatures import IncomingRequest

MAX_BODY = verify.MAX_BODY


def throttled(engine: Engine, config: Config, headers: Mapping[str, str], *,
              now: datetime) -> throttle.Throttled | None:
    """Count the POST against its sender's host (before its body is even read); a ``Throttled`` answers 429."""
    return throttle.check(engine, config, headers, now=now)


def receive(engine: Engine, config: Config, request: IncomingRequest, *, now: datetime) -> verify.Verdict:
    """Verify and, when accepted, store the activity and note that its sender's host answers again."""
    with request_deadline(config):
        verdict = verify.verify_inbox(engine, config, request, signed_fetcher(engine, config, slotted=True), now=now)
    if verdict.activity is not None and verdict.actor is not None:
        with engine.begin() as conn:
            inbox.store(conn, verdict.activity, verdict.actor, now=now, limits=Limits.of(config))
            if verdict.host_failing:   # read with the key: nearly always it was not, and then nothing is written
                delivery.host_is_back(conn, host_of(verdict.actor))
    return verdict
