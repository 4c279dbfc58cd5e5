"""HTTP signatures for ActivityPub, both directions.

Outgoing requests are signed the way every fediverse server understands: draft-cavage-12 with
`rsa-sha256`. Incoming requests may carry either draft-cavage (`Signature:`) or RFC 9421
(`Signature-Input:` + `Signature:`): recent Mastodon and Fedify try RFC 9421 first and fall back
to cavage after a 401, so one inbox has to accept both.

Verification is pure (no clock, no network, no exceptions): `parse_signature` reads the request
and applies the coverage rules before anyone fetches a key, the caller fetches the key named by
`ParsedSignature.key_id`, then `verify_parsed` checks the time window and the RSA signature.

Status codes follow one rule: 400 when we cannot read the request (missing or unparseable
headers, bad base64), 401 when we can read it but will not trust it (bad signature, digest
mismatch, expired, something required not signed, an algorithm we do not accept). Unsupported
algorithms are 401 on purpose: "double-knocking" senders retry with the other scheme after 401.
"""
from __future__ import annotations

import base64
import binascii
import email.utils
import functools
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Callable, Generator, Iterable, Mapping, Union

import httpx
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from linkblog.federation.digest import DigestStatus, check_decoded_digests, check_digest, digest_header

# --------------------------------------------------------------------------------------------
# Results and inputs
# --------------------------------------------------------------------------------------------


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
    allow_query_less_target: bool = True   # Mastodon's compatibility quirk, see `_cavage_bases`


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


class _Reject(Exception):
    """Internal control flow: raised deep in a parser, turned into `Rejected` at the API edge."""

    def __init__(self, reason: str, status: int) -> None:
        super().__init__(reason)
        self.rejected = Rejected(reason, status)


# --------------------------------------------------------------------------------------------
# Outgoing: draft-cavage-12, rsa-sha256
# --------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def load_private_key(private_pem: str) -> rsa.RSAPrivateKey:
    """Parse a PEM private key once: parsing costs far more than the ~1 ms RSA-2048 signature."""
    key = serialization.load_pem_private_key(private_pem.encode("ascii"), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("HTTP signatures for ActivityPub need an RSA private key")
    return key


def format_http_date(moment: datetime) -> str:
    """IMF-fixdate, the only Date format every verifier parses."""
    return email.utils.format_datetime(_as_utc(moment), usegmt=True)


def sign_headers(method: str, url: str | httpx.URL, headers: Mapping[str, str], body: bytes,
                 key_id: str, private_key: str | rsa.RSAPrivateKey, now: datetime) -> dict[str, str]:
    """Headers to add so the request is signed: Host and Date if missing, Digest for POST and
    bodies (always recomputed from `body`), and Signature.

    Signed: `(request-target) host date digest` for POST (and any request with a body),
    `(request-target) host date [accept]` otherwise.
    """
    target_url = url if isinstance(url, httpx.URL) else httpx.URL(url)
    present = _Headers(headers)
    added: dict[str, str] = {}
    host = present.get("host")
    if host is None:
        host = added["Host"] = target_url.netloc.decode("ascii")
    date = present.get("date")
    if date is None:
        date = added["Date"] = format_http_date(now)
    values = {"(request-target)": f"{method.lower()} {target_url.raw_path.decode('ascii')}",
              "host": host, "date": date}
    if method.upper() == "POST" or body:
        values["digest"] = added["Digest"] = digest_header(body)
    elif method.upper() == "GET" and (accept := present.get("accept")) is not None:
        values["accept"] = accept
    signing_string = "\n".join(f"{name}: {value}" for name, value in values.items())
    key = private_key if isinstance(private_key, rsa.RSAPrivateKey) else load_private_key(private_key)
    signature = key.sign(_encode_base(signing_string), padding.PKCS1v15(), hashes.SHA256())
    added["Signature"] = (f'keyId="{_quote(key_id)}",algorithm="rsa-sha256",'
                          f'headers="{" ".join(values)}",'
                          f'signature="{base64.b64encode(signature).decode("ascii")}"')
    return added


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class SignatureAuth(httpx.Auth):
    """httpx auth that signs every request it sends, e.g. `httpx.Client(auth=SignatureAuth(...))`.

    Redirects are followed by httpx without re-signing, so the (request-target) would be stale:
    send signed requests with `follow_redirects=False` and re-send each hop.
    """

    requires_request_body = True   # the Digest needs the exact body bytes

    def __init__(self, key_id: str, private_pem: str,
                 clock: Callable[[], datetime] = _utcnow) -> None:
        self.key_id = key_id
        self._key = load_private_key(private_pem)
        self._clock = clock

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        added = sign_headers(request.method, request.url, request.headers, request.content,
                             self.key_id, self._key, self._clock())
        for name, value in added.items():
            request.headers[name] = value
        yield request


# --------------------------------------------------------------------------------------------
# Incoming: the public API
# --------------------------------------------------------------------------------------------


def parse_signature(request: IncomingRequest, *, label: str | None = None,
                    policy: Policy = DEFAULT_POLICY) -> ParsedSignature | Rejected:
    """Read the signature, check what it covers and the body digest, and build the signature base.

    Everything that can fail without the key fails here, so no key is fetched for a request that
    would be rejected anyway. RFC 9421 wins when `Signature-Input` is present (as in Mastodon);
    `label` picks one of several RFC 9421 signatures (default: the first with an RSA `alg`, else the
    first without `alg`).
    """
    try:
        headers = _Headers(request.headers)
        if headers.get("signature-input") is not None:
            return _parse_rfc9421(request, headers, label, policy)
        if headers.get("signature") is not None:
            return _parse_cavage(request, headers, policy)
        raise _Reject("request is not signed (no Signature header)", 400)
    except _Reject as rejection:
        return rejection.rejected


def verify_parsed(parsed: ParsedSignature, public_key_pem: str, now: datetime, *,
                  window: TimeWindow = MASTODON_WINDOW) -> Verified | Rejected:
    """Check the time window, then the RSA signature over the base computed by `parse_signature`."""
    try:
        created = _check_window(parsed, now, window)
        key = _load_public_key(public_key_pem)
    except _Reject as rejection:
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
    except _Reject as rejection:
        return rejection.rejected
    public_key_pem = lookup_key(parsed.key_id)
    if public_key_pem is None:
        return Rejected(f"unknown key {parsed.key_id}", 401)
    return verify_parsed(parsed, public_key_pem, now, window=window)


# --------------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------------


class _Headers:
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
            raise _Reject(f"signed header {name!r} is missing from the request", 401)
        return value


def _as_utc(moment: datetime) -> datetime:
    """Naive datetimes are taken as UTC rather than rejected: both clocks in this app are UTC."""
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def _encode_base(text: str) -> bytes:
    """Latin-1 gives back the bytes WSGI decoded header values from; UTF-8 for anything else."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _strict_b64(value: str, what: str) -> bytes:
    try:
        decoded = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise _Reject(f"{what} is not valid base64", 400) from None
    if not decoded:
        raise _Reject(f"{what} is empty", 400)
    return decoded


def _split_target(target: str) -> tuple[str, str | None]:
    path, sep, query = target.partition("?")
    return (path or "/"), (query if sep else None)


_DAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_MONTHS = {name: number for number, name in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), start=1)}
_MONTH = "(" + "|".join(_MONTHS) + ")"
_TIME = r"(\d\d):(\d\d):(\d\d)"
_IMF_FIXDATE = re.compile(rf"{_DAY}, (\d\d) {_MONTH} (\d{{4}}) {_TIME} GMT")
_RFC850_DATE = re.compile(r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), "
                          rf"(\d\d)-{_MONTH}-(\d\d) {_TIME} GMT")
_ASCTIME_DATE = re.compile(rf"{_DAY} {_MONTH} ([ \d]\d) {_TIME} (\d{{4}})")


def parse_http_date(value: str) -> datetime | None:
    """The three HTTP-date forms of RFC 9110 §5.6.7 (what Ruby's Time.httpdate accepts), or None."""
    try:
        if match := _IMF_FIXDATE.fullmatch(value):
            day, month, year, hour, minute, second = match.groups()
        elif match := _RFC850_DATE.fullmatch(value):
            day, month, short_year, hour, minute, second = match.groups()
            year = str(1900 + int(short_year) if int(short_year) >= 70 else 2000 + int(short_year))
        elif match := _ASCTIME_DATE.fullmatch(value):
            month, day, hour, minute, second, year = match.groups()
        else:
            return None
        return datetime(int(year), _MONTHS[month], int(day), int(hour), int(minute), int(second),
                        tzinfo=timezone.utc)
    except ValueError:   # 31 Feb, hour 25, ...
        return None


def _timestamp(value: int | float | Decimal, what: str) -> datetime:
    try:
        return datetime.fromtimestamp(float(value), tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        raise _Reject(f"{what} is out of range", 400) from None


def _check_window(parsed: ParsedSignature, now: datetime, window: TimeWindow) -> datetime | None:
    """Mastodon's freshness rule (see `TimeWindow`); returns the creation time it checked."""
    now = _as_utc(now)
    created, expires = parsed.created, parsed.expires
    if created is not None:
        if created > now + window.clock_skew:
            raise _Reject("signature was created in the future", 401)
        limit = created + window.max_age
        expires = min(expires, limit) if expires is not None else min(created + window.default_validity, limit)
    if expires is not None and now > expires + window.clock_skew:
        raise _Reject("signature has expired", 401)
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
        raise _Reject(key, 401)
    return key


# --------------------------------------------------------------------------------------------
# draft-cavage-12
# --------------------------------------------------------------------------------------------

_TOKEN = r"[A-Za-z0-9!#$%&'*+.^_`|~-]+"
_CAVAGE_PARAM = re.compile(rf'[ \t]*({_TOKEN})[ \t]*=[ \t]*(?:"((?:[^"\\]|\\.)*)"|({_TOKEN}))[ \t]*(?:,|$)')
_CAVAGE_ALGORITHMS = ("rsa-sha256", "hs2019")
_MAX_COVERED = 64


def _parse_cavage_params(value: str) -> dict[str, str]:
    """`keyId="…",algorithm="…",headers="…",signature="…"`; names compared case-insensitively."""
    params: dict[str, str] = {}
    position = 0
    while position < len(value):
        match = _CAVAGE_PARAM.match(value, position)
        if match is None or match.end() == position:
            raise _Reject("Signature header cannot be parsed", 400)
        name = match.group(1).lower()
        if name in params:
            raise _Reject(f"Signature header repeats {match.group(1)!r}", 400)
        quoted, bare = match.group(2), match.group(3)
        params[name] = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else bare
        position = match.end()
    if not params:
        raise _Reject("Signature header is empty", 400)
    return params


def _parse_cavage(request: IncomingRequest, headers: _Headers, policy: Policy) -> ParsedSignature:
    params = _parse_cavage_params(headers.require("signature"))
    key_id = params.get("keyid")
    if not key_id:
        raise _Reject("Signature has no keyId", 400)
    if not params.get("signature"):
        raise _Reject("Signature has no signature value", 400)
    algorithm = params.get("algorithm", "hs2019").lower()   # absent: Mastodon treats it as hs2019
    if not algorithm:
        raise _Reject("Signature has an empty algorithm", 400)
    if algorithm not in _CAVAGE_ALGORITHMS:
        raise _Reject(f"algorithm {algorithm!r} is not accepted (rsa-sha256, hs2019)", 401)
    signature = _strict_b64(params["signature"], "signature")
    names = tuple(params.get("headers", "(created)" if algorithm == "hs2019" else "date").lower().split())
    if not names:
        raise _Reject("Signature covers no headers", 400)
    if len(names) > _MAX_COVERED:
        raise _Reject("Signature covers too many headers", 400)
    if len(set(names)) != len(names):
        raise _Reject("a header is signed twice", 401)
    created = _cavage_time_param(params, "created", names, algorithm)
    expires = _cavage_time_param(params, "expires", names, algorithm)

    _cavage_policy(request, names, policy)
    bases = _cavage_bases(request, headers, names, params, policy)
    if "digest" in names:
        _require_digest(check_digest(headers.require("digest"), request.body), "Digest")
    if created is None and "date" in names:
        created = parse_http_date(headers.require("date"))
        if created is None:
            raise _Reject("Date header is not an HTTP date", 400)
    has_query = _split_target(request.target)[1] is not None
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
        raise _Reject(f"{pseudo} cannot be used with {algorithm}", 400)
    raw = params.get(name)
    if raw is None:
        raise _Reject(f"{pseudo} is signed but the {name} parameter is missing", 400)
    try:
        value = int(raw) if name == "created" else Decimal(raw)
    except (ValueError, InvalidOperation):
        raise _Reject(f"{name} parameter is not a timestamp", 400) from None
    if isinstance(value, Decimal) and not value.is_finite():
        raise _Reject(f"{name} parameter is not a timestamp", 400)
    return _timestamp(value, f"{name} parameter")


def _cavage_policy(request: IncomingRequest, names: tuple[str, ...], policy: Policy) -> None:
    if policy.require_target and "(request-target)" not in names:
        raise _Reject("(request-target) is not signed", 401)
    if policy.require_authority and "host" not in names:
        raise _Reject("host is not signed", 401)
    if policy.require_time and "date" not in names and "(created)" not in names:
        raise _Reject("neither date nor (created) is signed", 401)
    if policy.require_digest_on_post and request.method.upper() == "POST" and "digest" not in names:
        raise _Reject("digest is not signed on a POST", 401)


def _cavage_bases(request: IncomingRequest, headers: _Headers, names: tuple[str, ...],
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
        return _encode_base("\n".join(lines))

    bases = [signing_string(request.target)]
    path, query = _split_target(request.target)
    if policy.allow_query_less_target and query is not None and "(request-target)" in names:
        bases.append(signing_string(path))
    return tuple(bases)


def _require_digest(status: DigestStatus, header: str) -> None:
    if status is DigestStatus.MALFORMED:
        raise _Reject(f"{header} header cannot be parsed", 400)
    if status is DigestStatus.UNSUPPORTED:
        raise _Reject(f"{header} header has no SHA-256 or SHA-512 digest", 401)
    if status is DigestStatus.MISMATCH:
        raise _Reject(f"{header} does not match the body", 401)


# --------------------------------------------------------------------------------------------
# RFC 9421
# --------------------------------------------------------------------------------------------

_RFC9421_ALGORITHMS = ("rsa-v1_5-sha256", "rsa-pss-sha512")
_TARGET_COMPONENTS = ("@target-uri", "@path", "@request-target")
_DEFAULT_PORTS = {"https": ":443", "http": ":80"}


def _parse_rfc9421(request: IncomingRequest, headers: _Headers, label: str | None,
                   policy: Policy) -> ParsedSignature:
    inputs = _sf_or_reject(headers.require("signature-input"), "Signature-Input")
    signature_field = headers.get("signature")
    if signature_field is None:
        raise _Reject("Signature-Input without Signature", 400)
    signatures = _sf_or_reject(signature_field, "Signature")
    label = label if label is not None else _choose_label(inputs)
    if label not in inputs:
        raise _Reject(f"no signature labelled {label!r}", 400)
    components, params = inputs[label]
    if not isinstance(components, list):
        raise _Reject(f"Signature-Input {label} is not an inner list", 400)
    signature = signatures.get(label, (None, {}))[0]
    if not isinstance(signature, bytes) or not signature:
        raise _Reject(f"Signature has no byte sequence for {label}", 400)

    key_id = params.get("keyid")
    if not isinstance(key_id, str) or not key_id:
        raise _Reject("Signature-Input has no keyid", 400)
    algorithm = params.get("alg")
    if algorithm is not None and not isinstance(algorithm, str):
        raise _Reject("alg parameter is not a string", 400)
    if algorithm is not None and algorithm not in _RFC9421_ALGORITHMS:
        raise _Reject(f"alg {algorithm!r} is not accepted ({', '.join(_RFC9421_ALGORITHMS)})", 401)
    created = _rfc9421_time(params, "created")
    expires = _rfc9421_time(params, "expires")

    identifiers = _component_identifiers(components)
    _rfc9421_policy(request, identifiers, created, policy)
    lines = [f"{_serialize_string(name)}: {_component_value(request, headers, name)}" for name in identifiers]
    lines.append(f'"@signature-params": {_serialize_inner_list(components, params)}')
    if "content-digest" in identifiers:
        _require_digest(_check_content_digest(headers.require("content-digest"), request.body),
                        "Content-Digest")
    has_query = _split_target(request.target)[1] is not None
    query_covered = not has_query or any(n in identifiers for n in ("@target-uri", "@request-target", "@query"))
    return ParsedSignature(scheme="rfc9421", key_id=key_id, algorithm=algorithm, covered=identifiers,
                           signature=signature, signature_bases=(_encode_base("\n".join(lines)),),
                           created=created, expires=expires, label=label, query_covered=query_covered)


def _sf_or_reject(value: str, field: str) -> dict[str, tuple[object, dict[str, object]]]:
    try:
        return _SFParser(value).dictionary()
    except _SFError as error:
        raise _Reject(f"{field} is not a valid structured field ({error})", 400) from None


def _choose_label(inputs: Mapping[str, tuple[object, dict[str, object]]]) -> str:
    """First signature declaring an accepted alg, else the first without alg, else the first one
    (which then fails with the reason its alg is refused)."""
    if not inputs:
        raise _Reject("Signature-Input is empty", 400)
    declared = [(name, member[1].get("alg")) for name, member in inputs.items()]
    for wanted in (lambda alg: alg in _RFC9421_ALGORITHMS, lambda alg: alg is None):
        for name, algorithm in declared:
            if wanted(algorithm):
                return name
    return declared[0][0]


def _rfc9421_time(params: Mapping[str, object], name: str) -> datetime | None:
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Reject(f"{name} parameter is not an integer", 400)
    return _timestamp(value, f"{name} parameter")


def _component_identifiers(components: list) -> tuple[str, ...]:
    """Component names; component parameters (;sf ;key ;bs ;req ;name ...) are not supported."""
    names = []
    for value, component_params in components:
        if not isinstance(value, str) or not value:
            raise _Reject("a covered component is not a string", 400)
        if value != value.lower():
            raise _Reject(f"component name {value!r} is not lowercase", 400)
        if component_params:
            raise _Reject(f"component parameters on {value!r} are not supported", 401)
        names.append(value)
    if len(names) > _MAX_COVERED:
        raise _Reject("Signature-Input covers too many components", 400)
    if len(set(names)) != len(names):
        raise _Reject("a component is signed twice", 401)
    return tuple(names)


def _rfc9421_policy(request: IncomingRequest, names: tuple[str, ...], created: datetime | None,
                    policy: Policy) -> None:
    if policy.require_target and ("@method" not in names or not any(n in names for n in _TARGET_COMPONENTS)):
        raise _Reject("@method and @target-uri (or @path) are not signed", 401)
    if policy.require_authority and "@authority" not in names and "@target-uri" not in names:
        raise _Reject("@authority (or @target-uri) is not signed", 401)
    if policy.require_time and created is None:
        raise _Reject("the created parameter is missing", 401)
    if policy.require_digest_on_post and request.method.upper() == "POST" and "content-digest" not in names:
        raise _Reject("content-digest is not signed on a POST", 401)


def _component_value(request: IncomingRequest, headers: _Headers, name: str) -> str:
    """Derived components of RFC 9421 §2.2 (request side), or a header field's combined value."""
    path, query = _split_target(request.target)
    if name == "@method":
        return request.method
    if name == "@authority":
        return _authority(request, headers)
    if name == "@scheme":
        return request.scheme.lower()
    if name == "@target-uri":
        return f"{request.scheme.lower()}://{_authority(request, headers)}{request.target}"
    if name == "@request-target":
        return request.target
    if name == "@path":
        return path
    if name == "@query":
        return "?" + (query or "")
    if name.startswith("@"):
        raise _Reject(f"derived component {name!r} is not supported", 401)
    return headers.require(name)


def _authority(request: IncomingRequest, headers: _Headers) -> str:
    """Host, lowercased, default port dropped (RFC 9421 §2.2.3)."""
    authority = headers.require("host").lower()
    default_port = _DEFAULT_PORTS.get(request.scheme.lower())
    if default_port and authority.endswith(default_port):
        authority = authority[: -len(default_port)]
    return authority


def _check_content_digest(value: str, body: bytes) -> DigestStatus:
    try:
        members = _SFParser(value).dictionary()
    except _SFError:
        return DigestStatus.MALFORMED
    decoded: dict[str, bytes] = {}
    for name, (digest, _) in members.items():
        if not isinstance(digest, bytes):
            return DigestStatus.MALFORMED
        decoded[name] = digest
    return check_decoded_digests(decoded, body)


# --------------------------------------------------------------------------------------------
# RFC 8941 structured fields: just what Signature-Input, Signature and Content-Digest use
# --------------------------------------------------------------------------------------------


class _SFError(ValueError):
    pass


@dataclass(frozen=True)
class _Token:
    """An sf-token, kept apart from sf-string because they serialize differently."""

    value: str


_LCALPHA = "abcdefghijklmnopqrstuvwxyz"
_DIGITS = "0123456789"
_KEY_FIRST = _LCALPHA + "*"
_KEY_CHARS = _LCALPHA + _DIGITS + "_-.*"
_TCHARS = set("!#$%&'*+-.^_`|~:/" + _DIGITS + _LCALPHA + _LCALPHA.upper())
_SF_NUMBER = re.compile(r"-?(\d{1,15})(\.\d{1,3})?")
_B64_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")


class _SFParser:
    """Parser for RFC 8941 §4.2 dictionaries; members are (value, parameters), inner lists are
    lists of (value, parameters)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def _peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _skip(self, chars: str) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in chars:
            self.pos += 1

    def dictionary(self) -> dict[str, tuple[object, dict[str, object]]]:
        members: dict[str, tuple[object, dict[str, object]]] = {}
        self._skip(" ")
        while self.pos < len(self.text):
            key = self._key()
            if self._peek() == "=":
                self.pos += 1
                members[key] = self._inner_list() if self._peek() == "(" else self._item()
            else:
                members[key] = (True, self._parameters())
            self._skip(" \t")
            if self.pos >= len(self.text):
                return members
            if self._peek() != ",":
                raise _SFError(f"expected ',' at {self.pos}")
            self.pos += 1
            self._skip(" \t")
            if self.pos >= len(self.text):
                raise _SFError("trailing comma")
        return members

    def _inner_list(self) -> tuple[list[tuple[object, dict[str, object]]], dict[str, object]]:
        self.pos += 1   # "("
        items: list[tuple[object, dict[str, object]]] = []
        while self.pos < len(self.text):
            self._skip(" ")
            if self._peek() == ")":
                self.pos += 1
                return items, self._parameters()
            items.append(self._item())
            if self._peek() not in (" ", ")"):
                raise _SFError(f"unexpected character in inner list at {self.pos}")
        raise _SFError("unterminated inner list")

    def _item(self) -> tuple[object, dict[str, object]]:
        return self._bare_item(), self._parameters()

    def _parameters(self) -> dict[str, object]:
        params: dict[str, object] = {}
        while self._peek() == ";":
            self.pos += 1
            self._skip(" ")
            key = self._key()
            value: object = True
            if self._peek() == "=":
                self.pos += 1
                value = self._bare_item()
            params[key] = value
        return params

    def _key(self) -> str:
        start = self.pos
        if self._peek() == "" or self._peek() not in _KEY_FIRST:
            raise _SFError(f"expected a key at {self.pos}")
        self.pos += 1
        self._skip(_KEY_CHARS)
        return self.text[start:self.pos]

    def _bare_item(self) -> object:
        char = self._peek()
        if char == "-" or (char != "" and char in _DIGITS):
            return self._number()
        if char == '"':
            return self._string()
        if char == ":":
            return self._byte_sequence()
        if char == "?":
            return self._boolean()
        if char != "" and (char.isascii() and char.isalpha() or char == "*"):
            return self._token()
        raise _SFError(f"unexpected item at {self.pos}")

    def _number(self) -> int | Decimal:
        match = _SF_NUMBER.match(self.text, self.pos)
        if match is None or (match.group(2) and len(match.group(1)) > 12):
            raise _SFError(f"bad number at {self.pos}")
        self.pos = match.end()
        if self._peek() != "" and self._peek() in _DIGITS + ".":
            raise _SFError(f"number too long at {self.pos}")
        return Decimal(match.group(0)) if match.group(2) else int(match.group(0))

    def _string(self) -> str:
        self.pos += 1
        chars = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            self.pos += 1
            if char == "\\":
                escaped = self._peek()
                if escaped not in ('"', "\\") or escaped == "":
                    raise _SFError("bad escape in string")
                chars.append(escaped)
                self.pos += 1
            elif char == '"':
                return "".join(chars)
            elif not " " <= char <= "~":
                raise _SFError("non-printable character in string")
            else:
                chars.append(char)
        raise _SFError("unterminated string")

    def _token(self) -> _Token:
        start = self.pos
        self.pos += 1
        while self.pos < len(self.text) and self.text[self.pos] in _TCHARS:
            self.pos += 1
        return _Token(self.text[start:self.pos])

    def _byte_sequence(self) -> bytes:
        end = self.text.find(":", self.pos + 1)
        if end < 0:
            raise _SFError("unterminated byte sequence")
        encoded = self.text[self.pos + 1:end]
        if not set(encoded) <= _B64_CHARS:
            raise _SFError("bad character in byte sequence")
        try:
            decoded = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise _SFError("byte sequence is not valid base64") from None
        self.pos = end + 1
        return decoded

    def _boolean(self) -> bool:
        value = self.text[self.pos + 1:self.pos + 2]
        if value not in ("0", "1"):
            raise _SFError("bad boolean")
        self.pos += 2
        return value == "1"


def _serialize_string(value: str) -> str:
    return '"' + _quote(value) + '"'


def _serialize_bare(value: object) -> str:
    if isinstance(value, bool):
        return "?1" if value else "?0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        text = f"{value.quantize(Decimal('0.001')):f}".rstrip("0")
        return text + "0" if text.endswith(".") else text
    if isinstance(value, str):
        return _serialize_string(value)
    if isinstance(value, _Token):
        return value.value
    if isinstance(value, bytes):
        return ":" + base64.b64encode(value).decode("ascii") + ":"
    raise _SFError(f"cannot serialize {type(value).__name__}")


def _serialize_params(params: Mapping[str, object]) -> str:
    return "".join(f";{key}" if value is True else f";{key}={_serialize_bare(value)}"
                   for key, value in params.items())


def _serialize_inner_list(items: list, params: Mapping[str, object]) -> str:
    """Canonical form of the Signature-Input member: what `@signature-params` must contain."""
    inner = " ".join(_serialize_bare(value) + _serialize_params(item_params) for value, item_params in items)
    return f"({inner}){_serialize_params(params)}"
