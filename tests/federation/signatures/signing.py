"""Requests signed for the signature tests, by our signer or by hand, the published vectors, and


the checks the tests share.

Every clock here is frozen: the vectors' own dates, or a fixed NOW for requests we sign.
"""
from __future__ import annotations

import base64
import json
import re
from datetime import datetime, timezone
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from linkblog.dates import format_http_date
from linkblog.federation.keys import generate_key_pair
from linkblog.federation.signatures import (MASTODON_WINDOW, IncomingRequest, Policy, Rejected, TimeWindow, Verified,
                                            load_private_key, sign_headers, verify_request)
from linkblog.federation.signatures.digest import content_digest_header

VECTORS = Path(__file__).parents[1] / "fixtures" / "httpsig"
CAVAGE = json.loads((VECTORS / "draft-cavage-12-test-vectors.json").read_text())
RFC9421 = json.loads((VECTORS / "rfc9421-test-vectors.json").read_text())
ACTIVITYPUB = json.loads((VECTORS / "activitypub-rsa-sha256-vectors.json").read_text())

PRIVATE_PEM, PUBLIC_PEM = generate_key_pair()
OTHER_PRIVATE_PEM, OTHER_PUBLIC_PEM = generate_key_pair()
KEY_ID = "https://links.example.org/actor#main-key"
INBOX = "https://remote.example/users/alice/inbox"
NOW = datetime(2026, 3, 14, 15, 9, 26, tzinfo=timezone.utc)
BODY = b'{"type": "Create", "actor": "https://links.example.org/actor"}'
# For spec vectors, which cover fewer components than an inbox demands.
LENIENT = Policy(require_target=False, require_authority=False, require_time=False,
                 require_digest_on_post=False)


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def lookup(pem: str | None = PUBLIC_PEM):
    """A key lookup that knows one key and records what it was asked for."""
    asked: list[str] = []

    def find(key_id: str) -> str | None:
        asked.append(key_id)
        return pem

    find.asked = asked  # type: ignore[attr-defined]
    return find


def incoming(method: str, url: str, headers, body: bytes = b"") -> IncomingRequest:
    target = httpx.URL(url).raw_path.decode("ascii")
    return IncomingRequest(method=method, target=target, headers=headers, body=body)


def signed_cavage(method: str = "POST", url: str = INBOX, body: bytes = BODY, *, now: datetime = NOW,
                  headers: dict[str, str] | None = None, private_pem: str = PRIVATE_PEM) -> dict[str, str]:
    """Headers of a request signed by our own signer."""
    all_headers = {"Host": httpx.URL(url).netloc.decode(), **(headers or {})}
    all_headers.update(sign_headers(method, url, all_headers, body, KEY_ID, private_pem, now))
    return all_headers


def cavage_with(headers: dict[str, str], **changes: str | None) -> dict[str, str]:
    """Rewrite parameters of a draft-cavage Signature header (None removes one)."""
    params = dict(re.findall(r'(\w+)="([^"]*)"', headers["Signature"]))
    for name, value in changes.items():
        if value is None:
            params.pop(name, None)
        else:
            params[name] = value
    return {**headers, "Signature": ",".join(f'{k}="{v}"' for k, v in params.items())}


def resign_cavage(method: str, url: str, headers: dict[str, str], signed: list[str], *,
                  algorithm: str | None = "rsa-sha256", extra_params: str = "",
                  pseudo: dict[str, str] | None = None, private_pem: str = PRIVATE_PEM) -> dict[str, str]:
    """Sign an arbitrary header list by hand, for the rules our signer never breaks."""
    lowered = {k.lower(): v for k, v in headers.items()}
    target = httpx.URL(url).raw_path.decode()
    lines = []
    for name in signed:
        if name == "(request-target)":
            lines.append(f"(request-target): {method.lower()} {target}")
        elif name in (pseudo or {}):
            lines.append(f"{name}: {pseudo[name]}")
        else:
            lines.append(f"{name}: {lowered.get(name, '')}")
    signature = load_private_key(private_pem).sign("\n".join(lines).encode(), padding.PKCS1v15(), hashes.SHA256())
    algorithm_param = f'algorithm="{algorithm}",' if algorithm else ""
    value = (f'keyId="{KEY_ID}",{algorithm_param}{extra_params}headers="{" ".join(signed)}",'
             f'signature="{base64.b64encode(signature).decode()}"')
    return {**headers, "Signature": value}


def signed_rfc9421(method: str = "POST", url: str = INBOX, body: bytes | None = BODY, *,
                   components: tuple[str, ...] = ("@method", "@target-uri", "content-digest"),
                   created: int | None = int(NOW.timestamp()), expires: int | None = None,
                   alg: str | None = "rsa-v1_5-sha256", keyid: str | None = KEY_ID,
                   label: str = "sig1", pss: bool = False, private_pem: str = PRIVATE_PEM,
                   extra_headers: dict[str, str] | None = None) -> dict[str, str]:
    """An RFC 9421 signature written out by hand (independently of the verifier), Mastodon-style
    by default: @method, @target-uri and content-digest, rsa-v1_5-sha256."""
    parsed_url = httpx.URL(url)
    headers = {"Host": parsed_url.netloc.decode(), "Date": format_http_date(NOW)}
    if body is not None:
        headers["Content-Digest"] = content_digest_header(body)
    headers.update(extra_headers or {})
    lowered = {k.lower(): v for k, v in headers.items()}
    derived = {"@method": method, "@target-uri": str(parsed_url), "@authority": parsed_url.host,
               "@path": parsed_url.path, "@query": "?" + parsed_url.query.decode()}
    params = ""
    if created is not None:
        params += f";created={created}"
    if expires is not None:
        params += f";expires={expires}"
    if keyid is not None:
        params += f';keyid="{keyid}"'
    if alg is not None:
        params += f';alg="{alg}"'
    inner = "(" + " ".join(f'"{c}"' for c in components) + ")" + params
    lines = [f'"{c}": {derived[c] if c.startswith("@") else lowered[c.lower()]}' for c in components]
    lines.append(f'"@signature-params": {inner}')
    key = load_private_key(private_pem)
    base = "\n".join(lines).encode()
    if pss:
        signature = key.sign(base, padding.PSS(mgf=padding.MGF1(hashes.SHA512()), salt_length=64), hashes.SHA512())
    else:
        signature = key.sign(base, padding.PKCS1v15(), hashes.SHA256())
    headers["Signature-Input"] = f"{label}={inner}"
    headers["Signature"] = f"{label}=:{base64.b64encode(signature).decode()}:"
    return headers


def verify(method: str, url: str, headers, body: bytes = b"", *, now: datetime = NOW,
           pem: str = PUBLIC_PEM, window: TimeWindow = MASTODON_WINDOW) -> Verified | Rejected:
    return verify_request(incoming(method, url, headers, body), now, lookup(pem), window=window)


def assert_rejected(result: Verified | Rejected, status: int, reason_part: str) -> None:
    assert isinstance(result, Rejected), result
    assert result.status == status, result
    assert reason_part in result.reason, result


def parse_message(text: str) -> tuple[str, str, list[tuple[str, str]], bytes]:
    """An HTTP/1.1 request as printed in the vectors: request line, fields, blank line, body."""
    head, _, body = text.partition("\n\n")
    request_line, *field_lines = head.split("\n")
    method, target, _ = request_line.split(" ")
    fields = [tuple(part.strip() for part in line.split(":", 1)) for line in field_lines]
    return method, target, fields, body.encode()  # type: ignore[return-value]


def vector_request(text: str, body: bytes | None = None) -> IncomingRequest:
    method, target, fields, parsed_body = parse_message(text)
    return IncomingRequest(method, target, httpx.Headers(fields), parsed_body if body is None else body)


def unwrap(printed: str) -> str:
    """Undo the line wrapping of a header printed in draft-cavage-12."""
    return re.sub(r"\n\s*", "", printed).strip()
