"""The guarded client (``net/client.py``) against real HTTP(S) servers on 127.0.0.1: TLS, documents and
content types, redirects, size and time limits, the signing hook and deliveries; every behaviour on
the sync and the async client."""
from __future__ import annotations

import datetime
import logging
import ssl
import tracemalloc
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from linkblog.federation.net import (AP_ACCEPT, BadContentType, BadDocument, BadURL, BlockedAddress, ConnectionFailed,
                                     FetchError, FetchTimeout, HTTPStatusError, IdMismatch, TooLarge, TooManyRedirects,
                                     AsyncFetchClient, parse_retry_after)

from tests.federation.net.servers import MIB, UA, FakeDNS, Runner, Server, allow, bomb, serve, strict
from tests.support.aio import run_async


# --- TLS: connect to the vetted IP, verify and name the host ----------------------------------

def _certificate(tmp_path: Path, name: str) -> tuple[Path, Path, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM)
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(pem)
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path, pem


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[Server, ssl.SSLContext, list[str]]]:
    cert_path, key_path, pem = _certificate(tmp_path, "sni.test")
    names: list[str] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    context.sni_callback = lambda sock, name, ctx: names.append(name)  # type: ignore[assignment,misc]
    trust = ssl.create_default_context(cadata=pem.decode())
    for server in serve(context):
        yield server, trust, names


def test_tls_uses_the_hostname_for_sni_certificate_and_host_header(run: Runner, dns: FakeDNS,
                                                                   tls_server: Any) -> None:
    server, trust, names = tls_server
    dns.answers["sni.test"] = [["127.0.0.1"]]
    url = f"https://sni.test:{server.port}/actor/alice"
    document = run(allow(ssl_context=trust), "fetch_json", url)
    assert document["id"] == url  # the server built it from the Host header it received
    assert names == ["sni.test"]
    assert server.requests[0].headers["Host"] == f"sni.test:{server.port}"


def test_tls_certificate_is_verified_against_the_hostname(run: Runner, dns: FakeDNS, tls_server: Any) -> None:
    server, trust, names = tls_server
    dns.answers["other.test"] = [["127.0.0.1"]]
    with pytest.raises(ConnectionFailed):
        run(allow(ssl_context=trust), "fetch_json", f"https://other.test:{server.port}/actor/alice")
    assert server.requests == []


# --- allow mode: documents, content types, ids ------------------------------------------------

def test_allow_mode_fetches_from_loopback_and_logs_it(run: Runner, server: Server,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="linkblog.federation.net.guard")
    document = run(allow(), "fetch_json", server.base + "/actor/alice")
    assert document["id"] == server.base + "/actor/alice"
    seen = server.requests[0]
    assert seen.headers["Accept"] == AP_ACCEPT
    assert seen.headers["User-Agent"] == UA
    assert any("127.0.0.1" in r.getMessage() and r.levelno == logging.DEBUG for r in caplog.records)


@pytest.mark.parametrize("path", ["/ld", "/ld-bare", "/json", "/gzip-doc"])
def test_accepted_content_types_and_gzip(run: Runner, server: Server, path: str) -> None:
    assert run(allow(), "fetch_json", server.base + path)["id"] == server.base + path


@pytest.mark.parametrize("path", ["/html", "/untyped"])
def test_other_content_types_are_refused(run: Runner, server: Server, path: str) -> None:
    with pytest.raises(BadContentType):
        run(allow(), "fetch_json", server.base + path)


@pytest.mark.parametrize("path", ["/mismatch-host", "/mismatch-path", "/with-fragment"])
def test_document_must_carry_the_id_it_was_fetched_from(run: Runner, server: Server, path: str) -> None:
    with pytest.raises(IdMismatch):
        run(allow(), "fetch_json", server.base + path)


@pytest.mark.parametrize("path", ["/no-id", "/list", "/broken"])
def test_documents_that_are_not_objects_with_ids_are_refused(run: Runner, server: Server, path: str) -> None:
    with pytest.raises(BadDocument):
        run(allow(), "fetch_json", server.base + path)


def test_fragment_is_not_sent_and_not_part_of_the_id_check(run: Runner, server: Server) -> None:
    document = run(allow(), "fetch_json", server.base + "/actor/alice#main-key")
    assert document["id"] == server.base + "/actor/alice"
    assert server.paths() == ["/actor/alice"]


def test_error_status_carries_the_status(run: Runner, server: Server) -> None:
    with pytest.raises(HTTPStatusError) as caught:
        run(allow(), "fetch_json", server.base + "/missing")
    assert caught.value.status == 404
    assert isinstance(caught.value, FetchError)


def test_connections_are_reused(run: Runner, server: Server) -> None:
    calls = [("fetch_json", (server.base + path,), {}) for path in ("/actor/alice", "/ld", "/json")]
    assert len(run.many(allow(), calls)) == 3
    assert len(server.connections) == 1


# --- redirects --------------------------------------------------------------------------------

def test_three_redirects_are_followed_and_the_final_url_is_the_id(run: Runner, server: Server) -> None:
    document = run(allow(), "fetch_json", server.base + "/redirect/3")
    assert document["id"] == server.base + "/redirect/0"
    assert server.paths() == ["/redirect/3", "/redirect/2", "/redirect/1", "/redirect/0"]


def test_the_fourth_redirect_is_refused_without_following_it(run: Runner, server: Server) -> None:
    with pytest.raises(TooManyRedirects):
        run(allow(), "fetch_json", server.base + "/redirect/4")
    assert server.paths() == ["/redirect/4", "/redirect/3", "/redirect/2", "/redirect/1"]


def test_absolute_redirect(run: Runner, server: Server) -> None:
    assert run(allow(), "fetch_json", server.base + "/redirect-absolute")["id"] == server.base + "/actor/alice"


@pytest.mark.parametrize("path, error", [("/to-metadata", BlockedAddress), ("/to-mapped", BlockedAddress),
                                         ("/to-zero", BlockedAddress), ("/to-ftp", BadURL)])
def test_redirect_targets_are_checked_again(run: Runner, server: Server, path: str, error: type) -> None:
    with pytest.raises(error):
        run(allow(), "fetch_json", server.base + path)
    assert server.paths() == [path]
    assert len(server.connections) == 1


# --- size and time limits ---------------------------------------------------------------------

def test_declared_oversize_body_is_refused(run: Runner, server: Server) -> None:
    with pytest.raises(TooLarge):
        run(allow(), "fetch_json", server.base + "/declared-huge")


def test_endless_body_is_cut_off(run: Runner, server: Server) -> None:
    with pytest.raises(TooLarge):
        run(allow(), "fetch_json", server.base + "/endless")
    assert server.hangup.wait(10), "the client should have hung up long before 64 MiB"


def test_compression_bomb_is_cut_off_without_inflating_it(run: Runner, server: Server) -> None:
    bomb()  # built before measuring
    tracemalloc.start()
    try:
        with pytest.raises(TooLarge):
            run(allow(), "fetch_json", server.base + "/gzip-bomb")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * MIB, f"inflated {peak} bytes at once"


def test_body_cap_is_configurable(run: Runner, server: Server) -> None:
    with pytest.raises(TooLarge):
        run(allow(max_body_bytes=50), "fetch_json", server.base + "/actor/alice")
    assert run(allow(max_body_bytes=5000), "fetch_json", server.base + "/actor/alice")


@pytest.mark.parametrize("path", ["/slow-headers", "/slow-body"])
def test_read_timeout(run: Runner, server: Server, path: str) -> None:
    with pytest.raises(FetchTimeout):
        run(allow(read_timeout=0.2), "fetch_json", server.base + path)


def test_total_timeout_stops_a_drip_fed_body(run: Runner, server: Server) -> None:
    with pytest.raises(FetchTimeout):
        run(allow(read_timeout=1.0, total_timeout=0.5), "fetch_json", server.base + "/drip")


# --- signing hook, deliveries, WebFinger --------------------------------------------------------

class FakeSignature(httpx.Auth):
    """Stands in for signatures.SignatureAuth: proves the client hands every request to the auth."""

    requires_request_body = True

    def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
        request.headers["Signature"] = f"{request.method} {request.url.raw_path.decode()} {len(request.content)}"
        yield request


def test_auth_signs_every_hop(run: Runner, server: Server) -> None:
    run(allow(), "fetch_json", server.base + "/redirect/2", auth=FakeSignature())
    assert [seen.headers.get("Signature") for seen in server.requests] == [
        "GET /redirect/2 0", "GET /redirect/1 0", "GET /redirect/0 0"]


def test_post_json_delivers_signed_body(run: Runner, server: Server) -> None:
    body = b'{"type": "Create"}'
    delivery = run(allow(), "post_json", server.base + "/inbox", body, auth=FakeSignature())
    assert delivery.status == 202 and delivery.ok and delivery.retry_after is None
    seen = server.requests[0]
    assert (seen.method, seen.body) == ("POST", body)
    assert seen.headers["Content-Type"] == "application/activity+json"
    assert seen.headers["Signature"] == f"POST /inbox {len(body)}"
    assert seen.headers["User-Agent"] == UA


def test_post_json_returns_status_and_retry_after(run: Runner, server: Server) -> None:
    delivery = run(allow(), "post_json", server.base + "/inbox-busy", b"{}")
    assert (delivery.status, delivery.ok, delivery.retry_after) == (429, False, 120.0)
    assert delivery.headers["Retry-After"] == "120"


def test_post_json_does_not_follow_redirects(run: Runner, server: Server) -> None:
    delivery = run(allow(), "post_json", server.base + "/inbox-moved", b"{}")
    assert delivery.status == 307
    assert server.paths() == ["/inbox-moved"]


def test_deliveries_never_send_a_peer_its_cookie_back(server: Server) -> None:
    """An inbox POST keeps no cookie (it is sent through the transport, past the client's cookie jar): a
    delivery never carries state a peer set on an earlier one."""
    async def twice() -> None:
        async with AsyncFetchClient(allow()) as client:
            for _ in range(2):
                assert (await client.post_json(server.base + "/inbox-cookie", b"{}", auth=FakeSignature())).status == 202

    run_async(twice)
    assert [seen.headers.get("Cookie") for seen in server.requests] == [None, None]
    assert all(seen.headers["Signature"] == "POST /inbox-cookie 2" for seen in server.requests)


def test_post_json_has_the_same_guard(run: Runner, server: Server) -> None:
    with pytest.raises(BlockedAddress):
        run(strict(), "post_json", f"https://127.0.0.1:{server.port}/inbox", b"{}")
    with pytest.raises(BadURL):
        run(strict(), "post_json", server.base + "/inbox", b"{}")
    assert server.connections == []


@pytest.mark.parametrize("value, seconds", [("120", 120.0), ("0", 0.0), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
                                            ("soon", None), ("", None), (None, None), ("-5", None)])
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value) == seconds
