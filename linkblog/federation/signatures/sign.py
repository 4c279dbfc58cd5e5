"""Signing outgoing requests the way every fediverse server understands: draft-cavage-12 with
`rsa-sha256` (RFC 9421 is only ever verified, see `verify`)."""
from __future__ import annotations

import base64
import functools
from datetime import datetime, timezone
from typing import Callable, Generator, Mapping

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from ...dates import format_http_date
from .base import Headers, encode_base, quote
from .digest import digest_header


@functools.lru_cache(maxsize=8)
def load_private_key(private_pem: str) -> rsa.RSAPrivateKey:
    """Parse a PEM private key once: parsing costs far more than the ~1 ms RSA-2048 signature."""
    key = serialization.load_pem_private_key(private_pem.encode("ascii"), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("HTTP signatures for ActivityPub need an RSA private key")
    return key


def sign_headers(method: str, url: str | httpx.URL, headers: Mapping[str, str], body: bytes,
                 key_id: str, private_key: str | rsa.RSAPrivateKey, now: datetime) -> dict[str, str]:
    """Headers to add so the request is signed: Host and Date if missing, Digest for POST and
    bodies (always recomputed from `body`), and Signature.

    Signed: `(request-target) host date digest` for POST (and any request with a body),
    `(request-target) host date [accept]` otherwise.
    """
    target_url = url if isinstance(url, httpx.URL) else httpx.URL(url)
    present = Headers(headers)
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
    signature = key.sign(encode_base(signing_string), padding.PKCS1v15(), hashes.SHA256())
    added["Signature"] = (f'keyId="{quote(key_id)}",algorithm="rsa-sha256",'
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


__all__ = ["SignatureAuth", "load_private_key", "sign_headers"]
