"""Reading a draft-cavage-12 `Signature` header (rsa-sha256 or hs2019) and building its signing
string, including Mastodon's legacy variant without the query."""
from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation

from ...dates import parse_http_date
from .base import (MAX_COVERED, Headers, IncomingRequest, ParsedSignature, Policy, SignatureError, encode_base,
                   require_digest, split_target, strict_b64, timestamp)
from .digest import check_digest

_TOKEN = r"[A-Za-z0-9!#$%&'*+.^_`|~-]+"
_CAVAGE_PARAM = re.compile(rf'[ \t]*({_TOKEN})[ \t]*=[ \t]*(?:"((?:[^"\\]|\\.)*)"|({_TOKEN}))[ \t]*(?:,|$)')
_CAVAGE_ALGORITHMS = ("rsa-sha256", "hs2019")


def _parse_cavage_params(value: str) -> dict[str, str]:
    """`keyId="…",algorithm="…",headers="…",signature="…"`; names compared case-insensitively."""
    params: dict[str, str] = {}
    position = 0
    while position < len(value):
        match = _CAVAGE_PARAM.match(value, position)
        if match is None or match.end() == position:
            raise SignatureError("Signature header cannot be parsed", 400)
        name = match.group(1).lower()
        if name in params:
            raise SignatureError(f"Signature header repeats {match.group(1)!r}", 400)
        quoted, bare = match.group(2), match.group(3)
        params[name] = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else bare
        position = match.end()
    if not params:
        raise SignatureError("Signature header is empty", 400)
    return params


def parse_cavage(request: IncomingRequest, headers: Headers, policy: Policy) -> ParsedSignature:
    params = _parse_cavage_params(headers.require("signature"))
    key_id = params.get("keyid")
    if not key_id:
        raise SignatureError("Signature has no keyId", 400)
    if not params.get("signature"):
        raise SignatureError("Signature has no signature value", 400)
    algorithm = params.get("algorithm", "hs2019").lower()   # absent: Mastodon treats it as hs2019
    if not algorithm:
        raise SignatureError("Signature has an empty algorithm", 400)
    if algorithm not in _CAVAGE_ALGORITHMS:
        raise SignatureError(f"algorithm {algorithm!r} is not accepted (rsa-sha256, hs2019)", 401)
    signature = strict_b64(params["signature"], "signature")
    names = tuple(params.get("headers", "(created)" if algorithm == "hs2019" else "date").lower().split())
    if not names:
        raise SignatureError("Signature covers no headers", 400)
    if len(names) > MAX_COVERED:
        raise SignatureError("Signature covers too many headers", 400)
    if len(set(names)) != len(names):
        raise SignatureError("a header is signed twice", 401)
    created = _cavage_time_param(params, "created", names, algorithm)
    expires = _cavage_time_param(params, "expires", names, algorithm)

    _cavage_policy(request, names, policy)
    bases = _cavage_bases(request, headers, names, params, policy)
    if "digest" in names:
        require_digest(check_digest(headers.require("digest"), request.body), "Digest")
    if created is None and "date" in names:
        created = parse_http_date(headers.require("date"))
        if created is None:
            raise SignatureError("Date header is not an HTTP date", 400)
    has_query = split_target(request.target)[1] is not None
    return ParsedSignature(scheme="cavage", key_id=key_id, algorithm=algorithm, covered=names,
                           signature=signature, signature_bases=bases, created=created, expires=expires,
                           query_covered=not has_query or "(request-target)" in names)


def _cavage_time_param(params: dict[str, str], name: str, names: tuple[str, ...],
                       algorithm: str) -> datetime | None:
    """`created`/`expires` count only when signed as `(created)`/`(expires)`: an unsigned parameter
    could be rewritten by anyone replaying the request."""
    pseudo = f"({name})"
    if pseudo not in names:
        return None
    if algorithm != "hs2019":
        raise SignatureError(f"{pseudo} cannot be used with {algorithm}", 400)
    raw = params.get(name)
    if raw is None:
        raise SignatureError(f"{pseudo} is signed but the {name} parameter is missing", 400)
    try:
        value = int(raw) if name == "created" else Decimal(raw)
    except (ValueError, InvalidOperation):
        raise SignatureError(f"{name} parameter is not a timestamp", 400) from None
    if isinstance(value, Decimal) and not value.is_finite():
        raise SignatureError(f"{name} parameter is not a timestamp", 400)
    return timestamp(value, f"{name} parameter")


def _cavage_policy(request: IncomingRequest, names: tuple[str, ...], policy: Policy) -> None:
    if policy.require_target and "(request-target)" not in names:
        raise SignatureError("(request-target) is not signed", 401)
    if policy.require_authority and "host" not in names:
        raise SignatureError("host is not signed", 401)
    if policy.require_time and "date" not in names and "(created)" not in names:
        raise SignatureError("neither date nor (created) is signed", 401)
    if policy.require_digest_on_post and request.method.upper() == "POST" and "digest" not in names:
        raise SignatureError("digest is not signed on a POST", 401)


def _cavage_bases(request: IncomingRequest, headers: Headers, names: tuple[str, ...],
                  params: dict[str, str], policy: Policy) -> tuple[bytes, ...]:
    """The signing string, plus Mastodon's legacy variant: Mastodon before 4.2 left the query out
    of (request-target), and Mastodon still accepts that, so peers keep sending it."""
    def signing_string(target: str) -> bytes:
        lines = []
        for name in names:
            if name == "(request-target)":
                value = f"{request.method.lower()} {target}"
            elif name in ("(created)", "(expires)"):
                value = params[name[1:-1]]
            else:
                value = headers.require(name)
            lines.append(f"{name}: {value}")
        return encode_base("\n".join(lines))

    bases = [signing_string(request.target)]
    path, query = split_target(request.target)
    if policy.allow_query_less_target and query is not None and "(request-target)" in names:
        bases.append(signing_string(path))
    return tuple(bases)


__all__ = ["parse_cavage"]
