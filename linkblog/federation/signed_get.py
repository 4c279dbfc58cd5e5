"""Who is asking? Verifies the signature on a GET for our objects, for secure mode (authorized fetch) and
for followers-only objects, which only an accepted follower's server may read."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine

from ..config import Config
from . import keys
from .fetcher import FetchesBusy, request_deadline, signed_fetcher
from .signatures import IncomingRequest, Rejected, parse_signature, verify_parsed
from .verify import blocked, signed_for_another_host


def signer(engine: Engine, config: Config, request: IncomingRequest, *, now: datetime) -> str | None:
    """The actor whose key validly signed ``request`` (a GET, empty body), or None: unsigned, forged,
    expired, signed for another host, key unavailable, or blocked. A key that no longer verifies is
    refetched once (rotation).

    The signature covers the host and the request target as the request carries them; the host must be
    ours, as for the inbox, or a follower's signature captured by another server (for its own copy of
    a path) would read our followers-only posts. ``request.scheme`` must be our public scheme.

    Fetching the key takes one of the process's fetch slots (none free: treated as unsigned) and every
    fetch shares one ``fetch_timeout``."""
    parsed = parse_signature(request)
    if isinstance(parsed, Rejected) or signed_for_another_host(request, config.base_url) is not None:
        return None
    fetch = signed_fetcher(engine, config, slotted=True)
    try:
        with request_deadline(config):
            key = keys.lookup_key(engine, parsed.key_id, fetch, now=now)
            result = verify_parsed(parsed, key.public_key_pem, now)
            if isinstance(result, Rejected) and not key.fetched:
                key = keys.lookup_key(engine, parsed.key_id, fetch, refresh=True, now=now)
                result = verify_parsed(parsed, key.public_key_pem, now)
    except (keys.KeyUnavailable, FetchesBusy):
        return None
    if isinstance(result, Rejected) or blocked(engine, key.owner, parsed.key_id):
        return None
    return key.owner
