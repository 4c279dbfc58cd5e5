"""Round trips through our signer (``signatures/sign.py``, `SignatureAuth`) and our verifier, in both


schemes."""
from __future__ import annotations

import re
from datetime import datetime, timezone

import httpx
import pytest

from linkblog.dates import format_http_date
from linkblog.federation.signatures import (IncomingRequest, Rejected, SignatureAuth, Verified, load_private_key,
                                            sign_headers, verify_request)
from linkblog.federation.signatures.digest import content_digest_header, digest_header

from tests.federation.signatures.signing import (BODY, INBOX, KEY_ID, NOW, PRIVATE_PEM, assert_rejected, lookup,
                                                 signed_cavage, signed_rfc9421, verify)
from tests.support.aio import run_async


# --------------------------------------------------------------------------------------------
# Round trips: our signer, our verifier
# --------------------------------------------------------------------------------------------


def test_signed_post_round_trips():
    headers = signed_cavage()
    result = verify("POST", INBOX, headers, BODY)
    assert isinstance(result, Verified), result
    assert result.key_id == KEY_ID
    assert result.scheme == "cavage" and result.algorithm == "rsa-v1_5-sha256"
    assert result.covered == ("(request-target)", "host", "date", "digest")
    assert result.created == NOW.replace(microsecond=0)


def test_signed_post_headers_are_what_mastodon_expects():
    headers = signed_cavage()
    assert headers["Date"] == "Sat, 14 Mar 2026 15:09:26 GMT"
    assert headers["Digest"] == digest_header(BODY)
    assert re.fullmatch(r'keyId="https://links\.example\.org/actor#main-key",algorithm="rsa-sha256",'
                        r'headers="\(request-target\) host date digest",signature="[A-Za-z0-9+/]+=*"',
                        headers["Signature"])


def test_signed_get_round_trips_with_query_and_accept():
    url = "https://remote.example/users/alice/outbox?page=true&min_id=0"
    headers = signed_cavage("GET", url, b"", headers={"Accept": "application/activity+json"})
    assert 'headers="(request-target) host date accept"' in headers["Signature"]
    assert "Digest" not in headers
    result = verify("GET", url, headers)
    assert isinstance(result, Verified) and result.query_signed is True


def test_signed_get_without_accept_signs_three_headers():
    headers = signed_cavage("GET", "https://remote.example/users/alice", b"")
    assert 'headers="(request-target) host date"' in headers["Signature"]
    assert isinstance(verify("GET", "https://remote.example/users/alice", headers), Verified)


def test_sign_headers_adds_host_and_keeps_a_given_date():
    added = sign_headers("POST", "https://remote.example:8443/inbox", {"Date": "Fri, 13 Mar 2026 15:09:26 GMT"},
                         BODY, KEY_ID, PRIVATE_PEM, NOW)
    assert added["Host"] == "remote.example:8443"
    assert "Date" not in added
    result = verify("POST", "https://remote.example:8443/inbox",
                    {"Date": "Fri, 13 Mar 2026 15:09:26 GMT", **added}, BODY,
                    now=datetime(2026, 3, 13, 15, 10, tzinfo=timezone.utc))
    assert isinstance(result, Verified), result


def test_signature_auth_signs_a_real_httpx_request():
    clock_reads: list[datetime] = []

    def clock() -> datetime:
        clock_reads.append(NOW)
        return NOW

    seen: list[Verified | Rejected] = []

    def inbox(request: httpx.Request) -> httpx.Response:
        parts = IncomingRequest(request.method, request.url.raw_path.decode(), request.headers, request.content)
        seen.append(verify_request(parts, NOW, lookup()))
        return httpx.Response(202)

    auth = SignatureAuth(KEY_ID, PRIVATE_PEM, clock=clock)
    with httpx.Client(transport=httpx.MockTransport(inbox), auth=auth) as client:
        response = client.post(INBOX + "?x=1", content=BODY, headers={"Content-Type": "application/activity+json"})
        client.get("https://remote.example/users/alice", headers={"Accept": "application/activity+json"})
    assert response.status_code == 202
    assert all(isinstance(result, Verified) for result in seen), seen
    assert [result.covered for result in seen] == [("(request-target)", "host", "date", "digest"),
                                                   ("(request-target)", "host", "date", "accept")]
    assert len(clock_reads) == 2


def test_signature_auth_request_carries_date_digest_and_signature():
    request = httpx.Request("POST", INBOX, content=BODY)
    signed = next(SignatureAuth(KEY_ID, PRIVATE_PEM, clock=lambda: NOW).sync_auth_flow(request))
    assert signed.headers["Date"] == format_http_date(NOW)
    assert signed.headers["Digest"] == digest_header(BODY)
    assert signed.headers["Signature"].startswith(f'keyId="{KEY_ID}",algorithm="rsa-sha256"')


def test_signature_auth_replaces_a_stale_digest():
    request = httpx.Request("POST", INBOX, content=BODY, headers={"Digest": "SHA-256=AAAA"})
    signed = next(SignatureAuth(KEY_ID, PRIVATE_PEM, clock=lambda: NOW).sync_auth_flow(request))
    assert signed.headers.get_list("Digest") == [digest_header(BODY)]
    parts = IncomingRequest("POST", "/users/alice/inbox", signed.headers, BODY)
    assert isinstance(verify_request(parts, NOW, lookup()), Verified)


def test_signature_auth_works_with_the_async_client():
    async def inbox(request: httpx.Request) -> httpx.Response:
        parts = IncomingRequest(request.method, request.url.raw_path.decode(), request.headers, request.content)
        result = verify_request(parts, NOW, lookup())
        return httpx.Response(202 if isinstance(result, Verified) else result.status)

    async def deliver() -> int:
        auth = SignatureAuth(KEY_ID, PRIVATE_PEM, clock=lambda: NOW)
        async with httpx.AsyncClient(transport=httpx.MockTransport(inbox), auth=auth) as client:
            return (await client.post(INBOX, content=BODY)).status_code

    assert run_async(deliver) == 202


def test_private_key_is_parsed_once():
    assert load_private_key(PRIVATE_PEM) is load_private_key(PRIVATE_PEM)


def test_private_key_must_be_rsa():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519
    pem = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    with pytest.raises(ValueError):
        load_private_key(pem)


def test_rfc9421_round_trip_mastodon_style():
    headers = signed_rfc9421()
    result = verify("POST", INBOX, headers, BODY)
    assert isinstance(result, Verified), result
    assert result.scheme == "rfc9421"
    assert result.covered == ("@method", "@target-uri", "content-digest")


def test_rfc9421_round_trip_with_authority_and_path_and_no_alg():
    headers = signed_rfc9421(components=("@method", "@authority", "@path", "@query", "content-digest", "date"),
                             alg=None, url=INBOX + "?a=b")
    assert isinstance(verify("POST", INBOX + "?a=b", headers, BODY), Verified)


def test_rfc9421_round_trip_rsa_pss_sha512():
    for alg in ("rsa-pss-sha512", None):
        headers = signed_rfc9421(alg=alg, pss=True)
        result = verify("POST", INBOX, headers, BODY)
        assert isinstance(result, Verified) and result.algorithm == "rsa-pss-sha512", result


def test_rfc9421_sha512_content_digest_is_accepted():
    headers = signed_rfc9421(extra_headers={"Content-Digest": content_digest_header(BODY, "sha-512")})
    assert isinstance(verify("POST", INBOX, headers, BODY), Verified)


def test_same_inbox_takes_rfc9421_then_cavage_double_knock():
    """Mastodon/Fedify try RFC 9421 first and retry with draft-cavage after a 401."""
    first = verify("POST", INBOX, signed_rfc9421(), BODY)
    second = verify("POST", INBOX, signed_cavage(), BODY)
    assert (first.scheme, second.scheme) == ("rfc9421", "cavage")   # type: ignore[union-attr]


def test_unsupported_rfc9421_alg_is_401_so_double_knocking_senders_fall_back():
    headers = signed_rfc9421(alg="ed25519")
    assert_rejected(verify("POST", INBOX, headers, BODY), 401, "alg 'ed25519' is not accepted")
