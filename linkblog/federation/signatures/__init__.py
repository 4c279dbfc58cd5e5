"""HTTP signatures for ActivityPub, both directions.

Outgoing requests are signed the way every fediverse server understands: draft-cavage-12 with
`rsa-sha256`. Incoming requests may carry either draft-cavage (`Signature:`) or RFC 9421
(`Signature-Input:` + `Signature:`): recent Mastodon and Fedify try RFC 9421 first and fall back
to cavage after a 401, so one inbox has to accept both.

Verification is pure (no clock, no network, no exceptions): `parse_signature` reads the request
and applies the coverage rules before anyone fetches a key, the caller fetches the key named by
`ParsedSignature.key_id`, then `verify_parsed` checks the time window and the RSA signature.

Status codes follow one rule: 400 when we cannot read the signature (missing or unparseable
signature parameters, bad base64), 401 when the request is unsigned or we can read it but will not
trust it (no signature at all, as Mastodon's "Request not signed"; bad signature, digest mismatch,
expired, something required not signed, an algorithm we do not accept). Unsupported algorithms and
unsigned requests are 401 on purpose: "double-knocking" senders retry (with the other scheme, or
signed) after a 401.

Layout: `sign` (outgoing), `verify` (the incoming entry points), one module per scheme (`cavage`,
`rfc9421`), `structured` (the RFC 8941 parser RFC 9421 needs), `digest` (Digest / Content-Digest) and
`base` (the request, results, policy and time window both schemes share). Callers import the API
from this package, and the digest helpers from `digest`.
"""
from __future__ import annotations

from .base import (DEFAULT_POLICY, MASTODON_WINDOW, IncomingRequest, KeyLookup, ParsedSignature, Policy, Rejected,
                   TimeWindow, Verified)
from .sign import SignatureAuth, load_private_key, sign_headers
from .verify import parse_signature, verify_parsed, verify_request, verify_with_lookup

__all__ = [
    "DEFAULT_POLICY", "MASTODON_WINDOW", "IncomingRequest", "KeyLookup", "ParsedSignature", "Policy", "Rejected",
    "SignatureAuth", "TimeWindow", "Verified", "load_private_key", "parse_signature", "sign_headers",
    "verify_parsed", "verify_request", "verify_with_lookup",
]
