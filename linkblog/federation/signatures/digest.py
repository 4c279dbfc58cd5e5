"""Body digests: `Digest` (RFC 3230, what draft-cavage signers send) and `Content-Digest` (RFC 9530).

A signature only covers the digest header, so the digest is what ties the body to the signature:
the verifier must recompute it from the raw body bytes, never trust the header alone.
"""
from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
from typing import Mapping

# Names as written on the wire: RFC 3230 tokens are case-insensitive, RFC 9530 keys are lowercase.
_HASHES = {"sha-256": hashlib.sha256, "sha-512": hashlib.sha512}


class DigestStatus(enum.Enum):
    """Outcome of comparing a digest header with the body; the caller maps it to 400/401."""

    MATCH = "match"
    MISMATCH = "mismatch"            # a supported digest disagrees with the body: tampered or broken
    MALFORMED = "malformed"          # the header cannot be read at all
    UNSUPPORTED = "unsupported"      # well-formed, but no algorithm we can check (e.g. only MD5)


def digest_header(body: bytes) -> str:
    """`Digest` value for an outgoing draft-cavage request: Mastodon only checks SHA-256."""
    return "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")


def content_digest_header(body: bytes, algorithm: str = "sha-256") -> str:
    """`Content-Digest` value (RFC 9530 dictionary with one byte-sequence member)."""
    encoded = base64.b64encode(_HASHES[algorithm](body).digest()).decode("ascii")
    return f"{algorithm}=:{encoded}:"


def check_digest(value: str, body: bytes) -> DigestStatus:
    """Check an RFC 3230 `Digest` value (`SHA-256=<b64>[, SHA-512=<b64>]`) against the body.

    Every supported algorithm present must match: accepting "any one matches" would let an
    attacker append a correct SHA-512 next to a stale SHA-256 and vice versa.
    """
    offered: dict[str, bytes] = {}
    for part in value.split(","):
        name, sep, encoded = part.strip(" \t").partition("=")
        if not sep or not name.strip(" \t"):
            return DigestStatus.MALFORMED
        key = name.strip(" \t").lower()
        if key not in _HASHES:
            continue
        try:
            decoded = base64.b64decode(encoded.strip(" \t"), validate=True)
        except (binascii.Error, ValueError):
            return DigestStatus.MALFORMED
        if key in offered:
            return DigestStatus.MALFORMED
        offered[key] = decoded
    return check_decoded_digests(offered, body)


def check_decoded_digests(offered: Mapping[str, bytes], body: bytes) -> DigestStatus:
    """Compare already-decoded digests keyed by lowercase algorithm name (the RFC 9530 path).

    The structured-field parsing of `Content-Digest` lives in `rfc9421`, which needs the same
    parser for `Signature-Input`; this function only does the hashing.
    """
    supported = {name: value for name, value in offered.items() if name in _HASHES}
    if not supported:
        return DigestStatus.UNSUPPORTED
    for name, expected in supported.items():
        if not hmac.compare_digest(_HASHES[name](body).digest(), expected):
            return DigestStatus.MISMATCH
    return DigestStatus.MATCH
