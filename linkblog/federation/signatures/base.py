"""What both signature schemes share: the request as received, the parsed signature, the results,
the coverage policy and time window, and the small helpers the two parsers have in common.

Parsers raise `SignatureError` from deep inside; the public entry points in `verify` turn it into a
`Rejected` result, so callers never see an exception for a bad request.
"""
from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Callable, Mapping, Union

from .digest import DigestStatus

# The most headers / components one signature may cover: far more than any sender uses.
MAX_COVERED = 64

@dataclass(frozen=True)
class Verified:
    """The request was signed by the holder of `key_id`; the caller still has to check that the
    key belongs to the actor the activity claims to come from."""

    key_id: str
    scheme: str                     # "cavage" or "rfc9421"
    algorithm: str                  # what verified: "rsa-v1_5-sha256" or "rsa-pss-sha512"
    covered: tuple[str, ...]        # signed headers / component identifiers, as declared
    created: datetime | None        # signing time the window was checked against
    query_signed: bool = True       # False if the request's query string is not covered


@dataclass(frozen=True)
class Rejected:
    """Why the request is not accepted, and the HTTP status to answer with (400 or 401)."""

    reason: str
    status: int


@dataclass(frozen=True)
class IncomingRequest:
    """The parts of a received request a signature can cover.

    `target` is the path with its query exactly as it came over the wire (still percent-encoded:
    with Flask use `environ["RAW_URI"]`/`REQUEST_URI`, not the decoded `request.path`). `headers`
    is any mapping whose `items()` yields (name, value); names are matched case-insensitively and
    repeated fields are joined with ", ". `scheme` only matters for RFC 9421 `@target-uri`/`@scheme`
    and should be the public scheme when running behind a TLS-terminating proxy.
    """

    method: str
    target: str
    headers: Mapping[str, str]
    body: bytes = b""
    scheme: str = "https"


@dataclass(frozen=True)
class TimeWindow:
    """When a signature counts as fresh: Mastodon's rule (app/lib/signed_request.rb).

    A signature is valid from `created` until its `expires` (default `created + default_validity`,
    never later than `created + max_age`), with `clock_skew` tolerance on both ends. Mastodon's
    constants are EXPIRATION_WINDOW_LIMIT = 12 hours and CLOCK_SKEW_MARGIN = 1 hour, with a 5-minute
    default validity: a plain Date-signed request is accepted up to 65 minutes after its Date.
    """

    max_age: timedelta = timedelta(hours=12)
    default_validity: timedelta = timedelta(minutes=5)
    clock_skew: timedelta = timedelta(hours=1)


MASTODON_WINDOW = TimeWindow()


@dataclass(frozen=True)
class Policy:
    """What must be covered by a signature. The defaults are the inbox rules; turning them off is
    for tests that push spec vectors (which sign fewer components) through the verifier."""

    require_target: bool = True            # (request-target) / @method + (@target-uri | @path)
    require_authority: bool = True         # host / (@authority | @target-uri)
    require_time: bool = True              # date or (created) signed / `created` parameter given
    require_digest_on_post: bool = True    # digest / content-digest signed on POST
    allow_query_less_target: bool = True   # Mastodon's compatibility quirk, see cavage.py


DEFAULT_POLICY = Policy()


@dataclass(frozen=True)
class ParsedSignature:
    """A signature read from a request, with everything request-dependent already computed, so
    `verify_parsed` needs only the key and the clock."""

    scheme: str                          # "cavage" or "rfc9421"
    key_id: str
    algorithm: str | None                # as declared (cavage defaults to "hs2019"); None if absent
    covered: tuple[str, ...]
    signature: bytes
    signature_bases: tuple[bytes, ...]   # the exact base first, then legacy alternatives
    created: datetime | None
    expires: datetime | None
    label: str | None = None             # RFC 9421 signature label
    query_covered: bool = True           # by the exact base (legacy bases never cover it)


KeyLookup = Callable[[str], Union[str, None]]


class SignatureError(Exception):
    """Control flow inside the parsers: raised deep down, turned into `Rejected` at the API edge."""

    def __init__(self, reason: str, status: int) -> None:
        super().__init__(reason)
        self.rejected = Rejected(reason, status)


class Headers:
    """Case-insensitive view of request headers, repeated fields joined with ", " (RFC 9110)."""

    def __init__(self, headers: Mapping[str, str]) -> None:
        merged: dict[str, list[str]] = {}
        for name, value in headers.items():
            merged.setdefault(str(name).lower(), []).append(str(value).strip(" \t"))
        self._values = {name: ", ".join(values) for name, values in merged.items()}

    def get(self, name: str) -> str | None:
        return self._values.get(name)

    def require(self, name: str) -> str:
        value = self._values.get(name)
        if value is None:
            raise SignatureError(f"signed header {name!r} is missing from the request", 401)
        return value


def encode_base(text: str) -> bytes:
    """Latin-1 gives back the bytes WSGI decoded header values from; UTF-8 for anything else."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


def quote(value: str) -> str:
    """Backslash-escape for a quoted string: cavage parameters and RFC 8941 sf-strings alike."""
    return value.replace("\\", "\\\\").replace('"', '\\"')


def strict_b64(value: str, what: str) -> bytes:
    """Decoded base64, refusing anything loose (400): a signature is never guessed at."""
    try:
        decoded = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError(f"{what} is not valid base64", 400) from None
    if not decoded:
        raise SignatureError(f"{what} is empty", 400)
    return decoded


def split_target(target: str) -> tuple[str, str | None]:
    """Path and query of a request target; the query is None when there is no "?" at all."""
    path, sep, query = target.partition("?")
    return (path or "/"), (query if sep else None)


def timestamp(value: int | float | Decimal, what: str) -> datetime:
    """A `created`/`expires` value as an aware UTC datetime, or 400 when it is out of range."""
    try:
        return datetime.fromtimestamp(float(value), tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        raise SignatureError(f"{what} is out of range", 400) from None


def require_digest(status: DigestStatus, header: str) -> None:
    """Map a digest check to the rule: unreadable is 400, unsupported or wrong is 401."""
    if status is DigestStatus.MALFORMED:
        raise SignatureError(f"{header} header cannot be parsed", 400)
    if status is DigestStatus.UNSUPPORTED:
        raise SignatureError(f"{header} header has no SHA-256 or SHA-512 digest", 401)
    if status is DigestStatus.MISMATCH:
        raise SignatureError(f"{header} does not match the body", 401)
