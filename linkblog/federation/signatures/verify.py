"""Verifying incoming signatures, in two steps so a bad request never costs a key fetch.

`parse_signature` reads the request (either scheme) and applies the coverage rules; the caller fetches
the key named by `ParsedSignature.key_id`; `verify_parsed` checks the time window and the RSA signature.
Pure: no clock, no network, and no exceptions for a bad request (a `Rejected` result instead).
"""
from __future__ import annotations

import functools
from datetime import datetime
from typing import Iterable

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from ...dates import as_utc
from .base import (DEFAULT_POLICY, MASTODON_WINDOW, Headers, IncomingRequest, KeyLookup, ParsedSignature, Policy,
                   Rejected, SignatureError, TimeWindow, Verified)
from .cavage import parse_cavage
from .rfc9421 import parse_rfc9421


def parse_signature(request: IncomingRequest, *, label: str | None = None,
                    policy: Policy = DEFAULT_POLICY) -> ParsedSignature | Rejected:
    """Read the signature, check what it covers and the body digest, and build the signature base.

    Everything that can fail without the key fails here, so no key is fetched for a request that
    would be rejected anyway. RFC 9421 wins when `Signature-Input` is present (as in Mastodon);
    `label` picks one of several RFC 9421 signatures (default: the first with an RSA `alg`, else the
    first without `alg`).
    """
    try:
        headers = Headers(request.headers)
        if headers.get("signature-input") is not None:
            return parse_rfc9421(request, headers, label, policy)
        if headers.get("signature") is not None:
            return parse_cavage(request, headers, policy)
        # 401, as Mastodon answers ("Request not signed"): double-knocking peers retry with a signature
        # after a 401, and nothing is wrong with the request except that we will not trust it.
        raise SignatureError("request is not signed (no Signature header)", 401)
    except SignatureError as rejection:
        return rejection.rejected


def verify_parsed(parsed: ParsedSignature, public_key_pem: str, now: datetime, *,
                  window: TimeWindow = MASTODON_WINDOW) -> Verified | Rejected:
    """Check the time window, then the RSA signature over the base computed by `parse_signature`."""
    try:
        created = _check_window(parsed, now, window)
        key = _load_public_key(public_key_pem)
    except SignatureError as rejection:
        return rejection.rejected
    for algorithm, pad, digest in _candidate_schemes(parsed):
        for index, base in enumerate(parsed.signature_bases):
            try:
                key.verify(parsed.signature, base, pad, digest)
            except (InvalidSignature, ValueError, TypeError):
                continue
            return Verified(key_id=parsed.key_id, scheme=parsed.scheme, algorithm=algorithm,
                            covered=parsed.covered, created=created,
                            query_signed=parsed.query_covered and index == 0)
    return Rejected("signature does not match the request and key", 401)


def verify_request(request: IncomingRequest, now: datetime, lookup_key: KeyLookup, *,
                   policy: Policy = DEFAULT_POLICY,
                   window: TimeWindow = MASTODON_WINDOW) -> Verified | Rejected:
    """Both steps in one call; `lookup_key(key_id)` returns the public key PEM or None if unknown.

    The time window is checked before the lookup so stale requests cost no key fetch. Exceptions
    raised by `lookup_key` itself (network errors) are left to the caller.
    """
    parsed = parse_signature(request, policy=policy)
    if isinstance(parsed, Rejected):
        return parsed
    return verify_with_lookup(parsed, now, lookup_key, window=window)


def verify_with_lookup(parsed: ParsedSignature, now: datetime, lookup_key: KeyLookup, *,
                       window: TimeWindow = MASTODON_WINDOW) -> Verified | Rejected:
    """The second step for a signature already parsed: the time window first (a stale request costs no
    key fetch), then the key lookup and the cryptographic check."""
    try:
        _check_window(parsed, now, window)
    except SignatureError as rejection:
        return rejection.rejected
    public_key_pem = lookup_key(parsed.key_id)
    if public_key_pem is None:
        return Rejected(f"unknown key {parsed.key_id}", 401)
    return verify_parsed(parsed, public_key_pem, now, window=window)


def _check_window(parsed: ParsedSignature, now: datetime, window: TimeWindow) -> datetime | None:
    """Mastodon's freshness rule (see `TimeWindow`); returns the creation time it checked."""
    now = as_utc(now)
    created, expires = parsed.created, parsed.expires
    if created is not None:
        if created > now + window.clock_skew:
            raise SignatureError("signature was created in the future", 401)
        limit = created + window.max_age
        expires = min(expires, limit) if expires is not None else min(created + window.default_validity, limit)
    if expires is not None and now > expires + window.clock_skew:
        raise SignatureError("signature has expired", 401)
    return created


_PKCS1 = ("rsa-v1_5-sha256", padding.PKCS1v15(), hashes.SHA256())
_PSS_RFC9421 = ("rsa-pss-sha512", padding.PSS(mgf=padding.MGF1(hashes.SHA512()), salt_length=64),
                hashes.SHA512())
_PSS_HS2019 = ("rsa-pss-sha512", padding.PSS(mgf=padding.MGF1(hashes.SHA512()),
                                             salt_length=padding.PSS.AUTO), hashes.SHA512())


def _candidate_schemes(parsed: ParsedSignature) -> Iterable[tuple[str, padding.AsymmetricPadding, hashes.HashAlgorithm]]:
    """RSA schemes worth trying. `hs2019` and a missing RFC 9421 `alg` leave the choice to the key;
    every RSA sender in the fediverse uses PKCS#1 v1.5/SHA-256, so that is tried first."""
    if parsed.scheme == "cavage":
        return (_PKCS1,) if parsed.algorithm == "rsa-sha256" else (_PKCS1, _PSS_HS2019)
    if parsed.algorithm == "rsa-v1_5-sha256":
        return (_PKCS1,)
    if parsed.algorithm == "rsa-pss-sha512":
        return (_PSS_RFC9421,)
    return (_PKCS1, _PSS_RFC9421)


@functools.lru_cache(maxsize=256)
def _parsed_public_key(public_key_pem: str) -> rsa.RSAPublicKey | str:
    """Parsed key, or why it cannot be used (cached too: the same actors sign again and again)."""
    try:
        key = serialization.load_pem_public_key(public_key_pem.encode("utf-8"))
    except (ValueError, TypeError, UnsupportedAlgorithm, UnicodeError):
        return "the actor's public key cannot be parsed"
    if not isinstance(key, rsa.RSAPublicKey):
        return "the actor's key is not an RSA key"
    return key


def _load_public_key(public_key_pem: str) -> rsa.RSAPublicKey:
    key = _parsed_public_key(public_key_pem)
    if isinstance(key, str):
        raise SignatureError(key, 401)
    return key


__all__ = ["parse_signature", "verify_parsed", "verify_request", "verify_with_lookup"]
