"""Who is asking? Verifies the signature on a GET for our objects, for secure mode (authorized fetch) and
for followers-only objects, which only an accepted follower's server may read."""
from __future__ import annotations

from flask import g, request
from sqlalchemy import select

from .. import site
from ..models import Follower, RemoteActor
from . import keys
from .client import signed_fetcher
from .httpsig import IncomingRequest, Rejected, parse_signature, verify_parsed
from ..web.inbox import _now, _raw_target
from .verify import blocked

F = Follower.__table__
A = RemoteActor.__table__


def signer() -> str | None:
    """The actor whose key validly signed this request (cached per request), or None."""
    if "ap_signer" in g:
        return g.ap_signer
    g.ap_signer = None
    if "Signature" not in request.headers and "Signature-Input" not in request.headers:
        return None
    engine, config = site().engine, site().config
    incoming = IncomingRequest(method=request.method, target=_raw_target(), headers=request.headers, body=b"",
                               scheme=request.scheme)
    parsed = parse_signature(incoming)
    if isinstance(parsed, Rejected):
        return None
    now = _now()
    try:
        key = keys.lookup_key(engine, parsed.key_id, signed_fetcher(engine, config), now=now)
        result = verify_parsed(parsed, key.public_key_pem, now)
        if isinstance(result, Rejected) and not key.fetched:
            key = keys.lookup_key(engine, parsed.key_id, signed_fetcher(engine, config), refresh=True, now=now)
            result = verify_parsed(parsed, key.public_key_pem, now)
    except keys.KeyUnavailable:
        return None
    if isinstance(result, Rejected) or blocked(engine, key.owner, parsed.key_id):
        return None
    g.ap_signer = key.owner
    return key.owner


def is_follower(actor_uri: str | None) -> bool:
    if not actor_uri:
        return False
    with site().engine.connect() as conn:
        return conn.execute(select(F.c.id).join(A, A.c.id == F.c.actor_id)
                            .where(A.c.uri == actor_uri, F.c.state == "accepted")).first() is not None
