"""The guarded federation client against real HTTP(S) servers on 127.0.0.1.

Nothing here leaves loopback: an autouse fake resolver answers numeric hosts and ``localhost`` as
usual, scripted names as told, and refuses every other name; where a test needs a "public"
address, a recording network backend notes the target and refuses to connect anywhere but loopback.
"""
from __future__ import annotations

import asyncio
import datetime
import functools
import gzip
import ipaddress
import json
import logging
import socket
import socketserver
import ssl
import sys
import threading
import tracemalloc
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import parse_qs, urlsplit

import httpcore
import httpx
import pytest

from tests.support.aio import run_async
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from linkblog.federation.net import (
    AP_ACCEPT, AsyncFetchClient, BadContentType, BadDocument, BadURL, BlockedAddress, ConnectionFailed,
    FetchClient, FetchError, FetchPolicy, FetchTimeout, HTTPStatusError, IdMismatch, TooLarge,
    TooManyRedirects, check_address, checked_url, parse_handle, parse_retry_after, resolve, user_agent,
    warn_if_private_allowed,
)

UA = "linkblog/test (+http://links.test)"
PUBLIC_IP = "93.184.215.14"  # a real public address: named, never connected to (see Recorder)
MIB = 1024 * 1024
REAL_GETADDRINFO = socket.getaddrinfo


def strict(**overrides: Any) -> FetchPolicy:
    return FetchPolicy(user_agent=UA, **overrides)


def allow(**overrides: Any) -> FetchPolicy:
    return FetchPolicy(user_agent=UA, allow_private_addresses=True, **overrides)


# --- resolver and connection recorders --------------------------------------------------------

class FakeDNS:
    """Scripted names get one answer list per lookup (the last repeats); numeric hosts and
    localhost resolve locally; every other name fails, so no test can ever query real DNS."""

    def __init__(self) -> None:
        self.answers: dict[str, list[list[str]]] = {}
        self.lookups: list[str] = []

    def __call__(self, host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0,
                 flags: int = 0) -> list[tuple[Any, ...]]:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name in self.answers:
            script = self.answers[name]
            ips = script[min(self.lookups.count(name), len(script) - 1)]
            self.lookups.append(name)
            return [(socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (ip, int(port), 0, 0))
                    if ":" in ip else (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (ip, int(port)))
                    for ip in ips]
        if name == "localhost":
            return REAL_GETADDRINFO(host, port, family, type, proto, flags)
        return REAL_GETADDRINFO(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)


@pytest.fixture(autouse=True)
def dns(monkeypatch: pytest.MonkeyPatch) -> FakeDNS:
    fake = FakeDNS()
    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return fake


def _loopback(host: str) -> bool:
    return ipaddress.ip_address(host).is_loopback


class Recorder(httpcore.NetworkBackend):
    """Notes every connect the guard lets through; only loopback targets are really dialled."""

    def __init__(self) -> None:
        self.targets: list[str] = []
        self._real = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Any = None) -> httpcore.NetworkStream:
        self.targets.append(host)
        if not _loopback(host):
            raise httpcore.ConnectError("test backend never leaves loopback")
        return self._real.connect_tcp(host, port, timeout, local_address, socket_options)


class AsyncRecorder(httpcore.AsyncNetworkBackend):
    def __init__(self) -> None:
        self.targets: list[str] = []
        self._real = httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None, socket_options: Any = None) -> httpcore.AsyncNetworkStream:
        self.targets.append(host)
        if not _loopback(host):
            raise httpcore.ConnectError("test backend never leaves loopback")
        return await self._real.connect_tcp(host, port, timeout, local_address, socket_options)

    async def sleep(self, seconds: float) -> None:
        await self._real.sleep(seconds)


# --- sync and async clients behind one calling convention -------------------------------------

class Runner:
    """Runs client methods on a fresh FetchClient or AsyncFetchClient, so every behaviour is
    checked on both."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def recorder(self) -> Recorder | AsyncRecorder:
        return Recorder() if self.kind == "sync" else AsyncRecorder()

    def many(self, policy: FetchPolicy, calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]],
             backend: Any = None) -> list[Any]:
        if self.kind == "sync":
            with FetchClient(policy, network_backend=backend) as client:
                return [getattr(client, method)(*args, **kwargs) for method, args, kwargs in calls]

        async def go() -> list[Any]:
            async with AsyncFetchClient(policy, network_backend=backend) as client:
                return [await getattr(client, method)(*args, **kwargs) for method, args, kwargs in calls]
        return run_async(go)

    def __call__(self, policy: FetchPolicy, method: str, *args: Any, backend: Any = None, **kwargs: Any) -> Any:
        return self.many(policy, [(method, args, kwargs)], backend)[0]


@pytest.fixture(params=["sync", "async"])
def run(request: pytest.FixtureRequest) -> Runner:
    return Runner(request.param)


# --- the test server --------------------------------------------------------------------------

@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class Server(ThreadingHTTPServer):
    """Records every accepted connection and request; ``stop`` ends slow responses at teardown."""

    daemon_threads = True

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.connections: list[tuple[str, int]] = []
        self.requests: list[Seen] = []
        self.stop = threading.Event()
        self.hangup = threading.Event()
        self.scheme = "https" if tls else "http"
        if tls:
            self.socket = tls.wrap_socket(self.socket, server_side=True)
        self.port = self.server_address[1]
        self.base = f"{self.scheme}://127.0.0.1:{self.port}"

    def server_bind(self) -> None:
        socketserver.TCPServer.server_bind(self)  # skip HTTPServer's getfqdn (a reverse DNS lookup)
        self.server_name, self.server_port = "127.0.0.1", self.server_address[1]

    def verify_request(self, request: Any, client_address: Any) -> bool:
        self.connections.append(client_address)
        return True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hanging up mid-response is what several tests provoke; anything else is printed."""
        if not isinstance(sys.exc_info()[1], (ConnectionError, ssl.SSLError)):
            super().handle_error(request, client_address)

    def paths(self) -> list[str]:
        return [seen.path for seen in self.requests]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.requests.append(Seen(self.command, self.path, dict(self.headers), body))
        split = urlsplit(self.path)
        ROUTES.get(split.path, _prefixed)(self, split.path, parse_qs(split.query))

    @property
    def base(self) -> str:
        return f"{self.server.scheme}://{self.headers['Host']}"

    def reply(self, status: int, body: bytes = b"", content_type: str | None = None,
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def doc(self, path: str, content_type: str = "application/activity+json", **fields: Any) -> None:
        document = {"@context": "https://www.w3.org/ns/activitystreams", "id": self.base + path,
                    "type": "Person", **fields}
        self.reply(200, json.dumps(document).encode(), content_type)

    def stream(self, chunks: Iterator[bytes], headers: dict[str, str]) -> None:
        """Headers now, then chunks until exhausted or the client hangs up."""
        self.close_connection = True
        self.send_response(200)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Connection", "close")
        self.end_headers()
        try:
            for chunk in chunks:
                self.wfile.write(chunk)
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.server.hangup.set()


def _prefixed(h: Handler, path: str, query: dict[str, list[str]]) -> None:
    if path.startswith("/redirect/"):
        left = int(path.rsplit("/", 1)[1])
        if left == 0:
            return h.doc(path)
        return h.reply(302, headers={"Location": f"/redirect/{left - 1}"})
    h.reply(404, b"not here", "text/plain")


def _webfinger(h: Handler, path: str, query: dict[str, list[str]]) -> None:
    host = h.headers["Host"]
    resource = query.get("resource", [""])[0]
    links = {f"acct:alice@{host}": [
        {"rel": "http://webfinger.net/rel/profile-page", "type": "text/html", "href": h.base + "/@alice"},
        {"rel": "self", "type": "application/activity+json", "href": h.base + "/actor/alice"}],
        f"acct:nolink@{host}": [{"rel": "self", "type": "text/html", "href": h.base + "/@nolink"}]}
    if resource not in links:
        return h.reply(404, b"", "application/jrd+json")
    jrd = {"subject": resource, "links": links[resource]}
    h.reply(200, json.dumps(jrd).encode(), "application/jrd+json")


def _endless(h: Handler, path: str, query: dict[str, list[str]]) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(1024):  # 64 MiB: far past the cap, bounded in case a client misbehaves
            yield b"x" * 65536
    h.stream(chunks(), {"Content-Type": "application/activity+json"})


def _declared_huge(h: Handler, path: str, query: dict[str, list[str]]) -> None:
    h.stream((b"x" * 65536 for _ in range(80)), {"Content-Type": "application/activity+json",
                                                 "Content-Length": str(5 * MIB)})


def _drip(h: Handler, path: str, query: dict[str, list[str]]) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"{"
        while not h.server.stop.wait(0.05):
            yield b" "
    h.stream(chunks(), {"Content-Type": "application/activity+json"})


def _slow_headers(h: Handler, path: str, query: dict[str, list[str]]) -> None:
    h.server.stop.wait(5)
    h.doc(path)


def _slow_body(h: Handler, path: str, query: dict[str, list[str]]) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"id": '
        h.server.stop.wait(5)
        yield b'"late"}'
    h.stream(chunks(), {"Content-Type": "application/activity+json"})


def _gzip_doc(h: Handler, path: str, query: dict[str, list[str]]) -> None:
    body = gzip.compress(json.dumps({"id": h.base + path, "type": "Note"}).encode())
    h.reply(200, body, "application/activity+json", {"Content-Encoding": "gzip"})


@functools.cache
def _bomb() -> bytes:
    """64 MiB of zeros in about 64 KiB: a single network read could inflate to all of it."""
    return gzip.compress(b"0" * (64 * MIB))


def _gzip_bomb(h: Handler, path: str, query: dict[str, list[str]]) -> None:
    h.reply(200, _bomb(), "application/activity+json", {"Content-Encoding": "gzip"})


ROUTES: dict[str, Callable[[Handler, str, dict[str, list[str]]], None]] = {
    "/actor/alice": lambda h, p, q: h.doc(p),
    "/ld": lambda h, p, q: h.doc(p, 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'),
    "/ld-bare": lambda h, p, q: h.doc(p, "application/ld+json"),
    "/json": lambda h, p, q: h.doc(p, "application/json; charset=utf-8"),
    "/html": lambda h, p, q: h.doc(p, "text/html"),
    "/untyped": lambda h, p, q: h.doc(p, ""),
    "/mismatch-host": lambda h, p, q: h.doc(p, id="https://other.example/actor/alice"),
    "/mismatch-path": lambda h, p, q: h.doc(p, id=h.base + "/actor/bob"),
    "/with-fragment": lambda h, p, q: h.doc(p, id=h.base + p + "#me"),
    "/no-id": lambda h, p, q: h.reply(200, b'{"type": "Person"}', "application/activity+json"),
    "/list": lambda h, p, q: h.reply(200, b"[1, 2]", "application/activity+json"),
    "/broken": lambda h, p, q: h.reply(200, b'{"id": ', "application/activity+json"),
    "/missing": lambda h, p, q: h.reply(404, b"gone", "text/plain"),
    "/redirect-absolute": lambda h, p, q: h.reply(301, headers={"Location": h.base + "/actor/alice"}),
    "/to-metadata": lambda h, p, q: h.reply(302, headers={"Location": "http://169.254.169.254/latest/meta-data/"}),
    "/to-mapped": lambda h, p, q: h.reply(302, headers={"Location": "http://[::ffff:a9fe:a9fe]/latest/"}),
    "/to-zero": lambda h, p, q: h.reply(302, headers={"Location": f"http://0.0.0.0:{h.server.port}/actor/alice"}),
    "/to-ftp": lambda h, p, q: h.reply(302, headers={"Location": "ftp://files.example/actor"}),
    "/.well-known/webfinger": _webfinger,
    "/endless": _endless,
    "/declared-huge": _declared_huge,
    "/drip": _drip,
    "/slow-headers": _slow_headers,
    "/slow-body": _slow_body,
    "/gzip-doc": _gzip_doc,
    "/gzip-bomb": _gzip_bomb,
    "/inbox": lambda h, p, q: h.reply(202),
    "/inbox-busy": lambda h, p, q: h.reply(429, b"slow down", "text/plain", {"Retry-After": "120"}),
    "/inbox-moved": lambda h, p, q: h.reply(307, headers={"Location": "/inbox"}),
}


def _serve(tls: ssl.SSLContext | None = None) -> Iterator[Server]:
    server = Server(tls)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stop.set()
        server.shutdown()
        server.server_close()


@pytest.fixture
def server() -> Iterator[Server]:
    yield from _serve()


# --- the address checker ----------------------------------------------------------------------

BLOCKED_ALWAYS = [
    "0.0.0.0", "0.1.2.3", "169.254.169.254", "169.254.0.1", "192.0.0.8", "192.0.2.1", "198.18.0.1",
    "198.51.100.7", "203.0.113.9", "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255",
    "::", "::127.0.0.1", "::ffff:169.254.169.254", "::ffff:0.0.0.0", "64:ff9b::a9fe:a9fe", "64:ff9b:1::1",
    "100::1", "2001::1", "2001:db8::1", "2002:7f00:1::1", "3fff::1", "fe80::1", "fe80::1%eth0", "fec0::1",
    "ff02::1", "ff0e::1",
]
LOCAL = [
    "127.0.0.1", "127.255.255.254", "10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.1.1",
    "100.64.0.1", "100.127.255.254", "::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "64:ff9b::7f00:1",
    "fc00::1", "fd00::1", "fd12:3456:789a::1",
]
PUBLIC = [
    "1.1.1.1", "8.8.8.8", PUBLIC_IP, "100.63.255.255", "100.128.0.1", "172.15.255.255", "172.32.0.1",
    "192.169.0.1", "2606:4700:4700::1111", "2a00:1450:4001::1", "::ffff:8.8.8.8", "64:ff9b::808:808",
]


@pytest.mark.parametrize("address", BLOCKED_ALWAYS + LOCAL)
def test_strict_mode_blocks_special_addresses(address: str) -> None:
    with pytest.raises(BlockedAddress):
        check_address(address)


@pytest.mark.parametrize("address", BLOCKED_ALWAYS)
def test_allow_mode_still_blocks_link_local_multicast_and_reserved(address: str) -> None:
    with pytest.raises(BlockedAddress):
        check_address(address, allow_private=True)


@pytest.mark.parametrize("address", LOCAL)
def test_allow_mode_opens_loopback_and_private_ranges(address: str) -> None:
    assert check_address(address, allow_private=True) == ipaddress.ip_address(address)


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_pass_in_both_modes(address: str) -> None:
    assert check_address(address) == check_address(address, allow_private=True) == ipaddress.ip_address(address)


@pytest.mark.parametrize("host", ["not-an-ip", "", "1.2.3.4.5"])
def test_non_addresses_are_refused(host: str) -> None:
    with pytest.raises(BlockedAddress):
        check_address(host)


@pytest.mark.parametrize("host", ["127.1", "2130706433", "0x7f000001", "0177.0.0.1", "0x7f.1", "0", "10.1",
                                  "localhost"])
def test_shorthand_and_decimal_forms_are_checked_after_resolution(host: str) -> None:
    with pytest.raises(BlockedAddress):
        resolve(host, 443)


def test_resolve_returns_vetted_addresses(dns: FakeDNS) -> None:
    dns.answers["ok.example"] = [[PUBLIC_IP, "2606:4700:4700::1111", PUBLIC_IP]]
    assert resolve("ok.example", 443) == [PUBLIC_IP, "2606:4700:4700::1111"]


# --- refusal before any connection (strict mode) ----------------------------------------------

@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "127.1", "2130706433", "0.0.0.0", "[::1]",
                                  "[::ffff:127.0.0.1]", "[::ffff:7f00:1]"])
def test_strict_mode_refuses_loopback_before_connecting(run: Runner, server: Server, host: str) -> None:
    with pytest.raises(BlockedAddress):
        run(strict(), "fetch_json", f"https://{host}:{server.port}/actor/alice")
    assert server.connections == []


@pytest.mark.parametrize("url", ["http://127.0.0.1:{port}/actor/alice", "http://example.com/actor/alice"])
def test_strict_mode_refuses_plain_http(run: Runner, server: Server, url: str) -> None:
    with pytest.raises(BadURL):
        run(strict(), "fetch_json", url.format(port=server.port))
    assert server.connections == []


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/x", "file:///etc/passwd", "gopher://127.0.0.1/",
                                 "http://user:secret@127.0.0.1/x", "not a url", "https:///nohost"])
def test_other_schemes_credentials_and_garbage_are_refused(run: Runner, url: str) -> None:
    with pytest.raises(BadURL):
        run(allow(), "get", url)


def test_strict_mode_refuses_http_redirect_targets() -> None:
    assert str(checked_url("https://example.com/a#frag", strict())) == "https://example.com/a"
    with pytest.raises(BadURL):
        checked_url("http://example.com/a", strict())


def test_hostname_resolving_to_private_address_is_refused_without_connecting(run: Runner, dns: FakeDNS) -> None:
    dns.answers["evil.example"] = [["10.0.0.1"]]
    recorder = run.recorder()
    with pytest.raises(BlockedAddress, match="evil.example"):
        run(strict(), "fetch_json", "https://evil.example/actor/alice", backend=recorder)
    assert dns.lookups == ["evil.example"]
    assert recorder.targets == []


def test_one_private_answer_among_public_ones_poisons_the_host(run: Runner, dns: FakeDNS, server: Server) -> None:
    dns.answers["mixed.example"] = [[PUBLIC_IP, "127.0.0.1"]]
    recorder = run.recorder()
    with pytest.raises(BlockedAddress):
        run(strict(), "fetch_json", f"https://mixed.example:{server.port}/actor/alice", backend=recorder)
    assert recorder.targets == []
    assert server.connections == []


def test_dns_rebinding_cannot_redirect_the_connection(run: Runner, dns: FakeDNS, server: Server) -> None:
    """First answer public, every later one loopback: the connection goes to the address that was
    checked, never to one from a second lookup, and the next fetch is refused outright."""
    dns.answers["rebind.example"] = [[PUBLIC_IP], ["127.0.0.1"]]
    recorder = run.recorder()
    url = f"https://rebind.example:{server.port}/actor/alice"
    with pytest.raises(ConnectionFailed):
        run(strict(), "fetch_json", url, backend=recorder)
    assert recorder.targets == [PUBLIC_IP]
    assert dns.lookups == ["rebind.example"]
    assert server.connections == []

    with pytest.raises(BlockedAddress):
        run(strict(), "fetch_json", url, backend=recorder)
    assert recorder.targets == [PUBLIC_IP]
    assert server.connections == []


def test_strict_webfinger_of_a_loopback_host_is_refused(run: Runner, server: Server) -> None:
    with pytest.raises(BlockedAddress):
        run(strict(), "webfinger", f"@alice@127.0.0.1:{server.port}")
    assert server.connections == []


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
    for server in _serve(context):
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
    _bomb()  # built before measuring
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


def test_webfinger_over_http_in_allow_mode(run: Runner, server: Server) -> None:
    handle = f"@alice@127.0.0.1:{server.port}"
    assert run(allow(), "webfinger", handle) == server.base + "/actor/alice"
    wf = [s for s in server.requests if s.path.startswith("/.well-known/webfinger")]
    assert len(wf) == 1
    assert parse_qs(urlsplit(wf[0].path).query)["resource"] == [f"acct:alice@127.0.0.1:{server.port}"]
    assert wf[0].headers["Accept"].startswith("application/jrd+json")


def test_webfinger_unknown_user_and_missing_self_link(run: Runner, server: Server) -> None:
    with pytest.raises(HTTPStatusError) as caught:
        run(allow(), "webfinger", f"bob@127.0.0.1:{server.port}")
    assert caught.value.status == 404
    with pytest.raises(BadDocument):
        run(allow(), "webfinger", f"acct:nolink@127.0.0.1:{server.port}")


@pytest.mark.parametrize("handle, parsed", [("@alice@Example.COM", ("alice", "example.com")),
                                            ("alice@example.com", ("alice", "example.com")),
                                            ("acct:alice@example.com:8443", ("alice", "example.com:8443"))])
def test_parse_handle(handle: str, parsed: tuple[str, str]) -> None:
    assert parse_handle(handle) == parsed


@pytest.mark.parametrize("handle", ["alice", "@alice", "alice@", "@@example.com", "a@b@c", "alice@ex/ample",
                                    "alice@example.com/.well-known", "alice@exa mple.com"])
def test_parse_handle_refuses_garbage(handle: str) -> None:
    with pytest.raises(BadURL):
        parse_handle(handle)


# --- start-up helpers -------------------------------------------------------------------------

def test_warning_when_private_addresses_are_allowed(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("linkblog.test.startup")
    with caplog.at_level(logging.WARNING, logger="linkblog.test.startup"):
        warn_if_private_allowed(logger, False)
        assert caplog.records == []
        warn_if_private_allowed(logger, True)
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    assert "allow_private_addresses" in caplog.records[0].getMessage()


def test_user_agent_names_the_site() -> None:
    agent = user_agent("https://links.example")
    assert agent.startswith("linkblog/") and agent.endswith(" (+https://links.example)")
    assert FetchPolicy.for_site("https://links.example").user_agent == agent
