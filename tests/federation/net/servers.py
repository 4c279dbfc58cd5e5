"""The test bench of the guarded client: a scripted resolver, connection recorders, the sync and
async clients behind one calling convention, and an HTTP(S) server on 127.0.0.1 with a route for every
behaviour (redirects, slow and endless bodies, compression bombs, WebFinger).

Nothing here leaves loopback: the resolver answers numeric hosts and ``localhost`` as usual, scripted
names as told, and refuses every other name; where a test needs a "public" address, a recording
network backend notes the target and refuses to connect anywhere but loopback.
"""
from __future__ import annotations

import functools
import gzip
import ipaddress
import json
import socket
import socketserver
import ssl
import sys
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterator
from urllib.parse import parse_qs, urlsplit

import httpcore

from linkblog.federation.net import AsyncFetchClient, FetchClient, FetchPolicy

from tests.support.aio import run_async

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
def bomb() -> bytes:
    """64 MiB of zeros in about 64 KiB: a single network read could inflate to all of it."""
    return gzip.compress(b"0" * (64 * MIB))


def _gzip_bomb(h: Handler, path: str, query: dict[str, list[str]]) -> None:
    h.reply(200, bomb(), "application/activity+json", {"Content-Encoding": "gzip"})


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
    "/inbox-cookie": lambda h, p, q: h.reply(202, headers={"Set-Cookie": "session=peer; Path=/"}),
}


def serve(tls: ssl.SSLContext | None = None) -> Iterator[Server]:
    server = Server(tls)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stop.set()
        server.shutdown()
        server.server_close()
