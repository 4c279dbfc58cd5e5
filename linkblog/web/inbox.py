"""``POST /actor/inbox`` and ``POST /inbox``: verify, store, answer 202; the worker does the rest.

Nothing here takes a lock or holds a transaction while the network is in use: a peer may deliver its
Accept while our Follow to it is still open, or fetch our actor while we fetch its key, and both
requests must make progress. The only network use is the key fetch inside ``verify.verify_inbox``.
"""
from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Callable
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, request

from .. import site
from ..db import utcnow

log = logging.getLogger(__name__)
bp = Blueprint("inbox", __name__)
PATHS = ("/actor/inbox", "/inbox")
CLOCK_KEY = "linkblog.clock"   # tests put a fixed clock here; the signature window is checked against it


def _now() -> datetime:
    clock: Callable[[], datetime] = current_app.extensions.get(CLOCK_KEY, utcnow)
    return clock()


def _answer(status: int, reason: str) -> Response:
    body = {"status": reason} if status < 400 else {"error": reason}
    return Response(json.dumps(body), status=status, content_type="application/json")


def _raw_target() -> str:
    """The request target exactly as sent (still percent-encoded), which is what was signed."""
    environ = request.environ
    target = environ.get("RAW_URI") or environ.get("REQUEST_URI") or ""
    if target.startswith(("http://", "https://")):   # absolute-form request line
        parts = urlsplit(target)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
    if not target.startswith("/"):
        query = environ.get("QUERY_STRING", "")
        target = request.path + (f"?{query}" if query else "")
    return target


def _read_body(limit: int) -> bytes | None:
    """At most ``limit`` bytes of body, or None when there is more (declared or actually sent)."""
    if request.content_length is not None and request.content_length > limit:
        return None
    chunks, size = [], 0
    stream = request.stream
    while True:
        chunk = stream.read(min(65536, limit + 1 - size))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            return None


@bp.post("/actor/inbox")
@bp.post("/inbox")
def receive() -> Response:
    # Imported here: the HTTP client, crypto and inbox machinery cost every web worker memory, and only
    # inbox POSTs need them (readers' pages never do).
    from ..federation import delivery, inbox, verify
    from ..federation.client import signed_fetcher
    from ..federation.httpsig import IncomingRequest

    body = _read_body(verify.MAX_BODY)
    if body is None:
        return _answer(413, f"body is larger than {verify.MAX_BODY} bytes")
    holder = site()
    config, engine = holder.config, holder.engine
    incoming = IncomingRequest(method=request.method, target=_raw_target(), headers=request.headers, body=body,
                               scheme=urlsplit(config.base_url).scheme)
    now = _now()
    verdict = verify.verify_inbox(engine, config, incoming, signed_fetcher(engine, config), now=now)
    if verdict.activity is not None and verdict.actor is not None:
        with engine.begin() as conn:
            inbox.store(conn, verdict.activity, verdict.actor, now=now)
            delivery.host_is_back(conn, delivery.host_of(verdict.actor))
    if verdict.status >= 400:
        log.info("inbox: refused %s from %s: %s", verdict.status, request.remote_addr, verdict.reason)
    return _answer(verdict.status, verdict.reason)
