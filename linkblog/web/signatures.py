"""Who signed this GET? The request side of ``federation.signed_get``, cached per request: secure mode
(authorized fetch) and followers-only objects ask it."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import g, request

from .. import site
from ..federation.signatures import IncomingRequest
from ..federation.signed_get import signer as verified_signer
from .incoming import now, raw_target


def signer() -> str | None:
    """The actor whose key validly signed this request (cached per request), or None."""
    if "ap_signer" in g:
        return g.ap_signer
    g.ap_signer = None
    if "Signature" not in request.headers and "Signature-Input" not in request.headers:
        return None
    # Our public scheme, as the inbox uses: behind a TLS proxy request.scheme may say http, and RFC 9421's
    # @target-uri was signed with the address peers used.
    incoming = IncomingRequest(method=request.method, target=raw_target(), headers=request.headers, body=b"",
                               scheme=urlsplit(site().config.base_url).scheme)
    g.ap_signer = verified_signer(site().engine, site().config, incoming, now=now())
    return g.ap_signer
