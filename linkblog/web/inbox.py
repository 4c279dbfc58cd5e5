"""``POST /actor/inbox`` and ``POST /inbox``: read the body, hand it to ``federation.receiving``, answer
202 (or the refusal); the worker does the rest. Exempt from the form CSRF check: peers authenticate with
HTTP signatures, never with our session cookie.

Nothing here takes a lock or holds a transaction while the network is in use: a peer may deliver its
Accept while our Follow to it is still open, or fetch our actor while we fetch its key, and both
requests must make progress. The only network use is the key fetch inside ``verify.verify_inbox``.
"""
from __future__ import annotations

import json
import logging
from urllib.parse import urlsplit

from flask import Blueprint, Response, request

from .. import site
from .incoming import now, raw_target
from .security import csrf_exempt

log = logging.getLogger(__name__)
bp = Blueprint("inbox", __name__)


BUSY_RETRY_AFTER = "60"   # seconds: when every key-fetch slot is busy, peers come back later


def _answer(status: int, reason: str) -> Response:
    body = {"status": reason} if status < 400 else {"error": reason}
    response = Response(json.dumps(body), status=status, content_type="application/json")
    if status == 503:
        response.headers["Retry-After"] = BUSY_RETRY_AFTER
    return response


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
@csrf_exempt
def receive() -> Response:
    # Imported here: the HTTP client, crypto and inbox machinery cost every web worker memory, and only
    # inbox POSTs need them (readers' pages never do).
    from ..federation import receiving
    from ..federation.signatures import IncomingRequest

    config, engine = site().config, site().engine
    # One plain dict: every check below looks headers up, and werkzeug's view of the WSGI environ rebuilds
    # each name on every pass over it.
    headers = dict(request.headers.items())
    throttled = receiving.throttled(engine, config, headers, now=now())
    if throttled is not None:
        log.info("inbox: 429 for %s (%s), over [federation] inbox_rate_limit", throttled.host, request.remote_addr)
        answer = _answer(429, f"too many requests from {throttled.host}; retry in {throttled.retry_after} s")
        answer.headers["Retry-After"] = str(throttled.retry_after)
        return answer
    body = _read_body(receiving.MAX_BODY)
    if body is None:
        return _answer(413, f"body is larger than {receiving.MAX_BODY} bytes")
    incoming = IncomingRequest(method=request.method, target=raw_target(), headers=headers, body=body,
                               scheme=urlsplit(config.base_url).scheme)
    verdict = receiving.receive(engine, config, incoming, now=now())
    if verdict.status >= 400:
        log.info("inbox: refused %s from %s: %s", verdict.status, request.remote_addr, verdict.reason)
    return _answer(verdict.status, verdict.reason)
