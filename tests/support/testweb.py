"""A loopback web of test sites: real HTTP servers on 127.0.0.x that answer as scripted.

Each ``Site`` listens on its own loopback address (127.0.0.2, 127.0.0.3, …: Linux routes all of
127.0.0.0/8 to the loopback device), so per-host rules see distinct hosts. A test adds pages to a site
(``site.page("/a", Page(...))``) or a function of the request; every request is recorded in
``site.requests``. Behaviours a hostile or broken web shows are small ``Page`` options (a delay, a body
trickled a byte at a time, raw bytes written as they are) so tests read as a list of facts.

Nothing here leaves loopback.
"""
from __future__ import annotations

import gzip
import itertools
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Iterator

_next_address = itertools.count(2)
_address_lock = threading.Lock()


@dataclass
class Seen:
    """One request as the site received it."""

    method: str
    path: str
    headers: dict[str, str]
    client_port: int = 0   # the connection's source port: two requests with the same one shared a connection


@dataclass
class Page:
    """What a path answers. ``raw`` (when set) is written to the socket as it is, replacing the rest,
    for answers no well-behaved server would send (1xx floods, broken framing)."""

    body: bytes | str = b""
    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before the status line
    trickle: float = 0.0  # seconds between body bytes (0: all at once)
    gzip: bool = False  # send the body gzip-encoded (Content-Encoding: gzip)
    raw: bytes | None = None
    endless: bool = False  # with ``raw``: write it again and again until the client leaves or the site stops

    def encoded(self) -> bytes:
        body = self.body.encode() if isinstance(self.body, str) else self.body
        return gzip.compress(body) if self.gzip else body


Answer = Page | Callable[[Seen], Page]


def html(title: str, text: str = "", *, head: str = "") -> str:
    """A small well-formed page with a title and a paragraph per blank-line-separated block."""
    paragraphs = "".join(f"<p>{block}</p>" for block in text.split("\n\n") if block)
    return (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>{head}"
            f"</head><body><article><h1>{title}</h1>{paragraphs}</article></body></html>")


def redirect(location: str, status: int = 301) -> Page:
    return Page(status=status, headers={"Location": location}, content_type="text/plain")


def gzip_bomb(size: int = 50 * 1024 * 1024) -> Page:
    """A few dozen KiB on the wire that inflate to ``size`` bytes of zeros."""
    return Page(body=b"\0" * size, gzip=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's name
        pass

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        self._answer(send_body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._answer(send_body=False)

    def _answer(self, send_body: bool) -> None:
        seen = Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                    self.client_address[1])
        self.server.site.requests.append(seen)
        answer = self.server.site.answer_for(seen)
        page = answer(seen) if callable(answer) else answer
        if page.delay:
            if self.server.site.stopping.wait(page.delay):
                return
        if page.raw is not None:
            while self._write(page.raw) and page.endless and not self.server.site.stopping.is_set():
                pass
            self.close_connection = True
            return
        body = page.encoded()
        self.send_response(page.status)
        self.send_header("Content-Type", page.content_type)
        self.send_header("Content-Length", str(len(body)))
        if page.gzip:
            self.send_header("Content-Encoding", "gzip")
        for name, value in page.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if not send_body:
            return
        if not page.trickle:
            self._write(body)
            return
        for byte in body:
            if self.server.site.stopping.wait(page.trickle) or not self._write(bytes([byte])):
                return

    def _write(self, data: bytes) -> bool:
        try:
            self.wfile.write(data)
            self.wfile.flush()
            return True
        except OSError:
            return False


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: str, site: Site) -> None:
        self.site = site
        super().__init__((address, 0), _Handler)


class Site:
    """One test site on its own loopback address; a context manager that starts and stops it."""

    def __init__(self, address: str | None = None) -> None:
        if address is None:
            with _address_lock:
                address = f"127.0.0.{next(_next_address) % 250 + 2}"
        self.requests: list[Seen] = []
        self.stopping = threading.Event()
        self._pages: dict[str, Answer] = {}
        self._fallback: Answer = Page("not found", status=404, content_type="text/plain")
        self._server = _Server(address, self)
        self.host, self.port = self._server.server_address[:2]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    def page(self, path: str, answer: Answer) -> str:
        """Serve ``answer`` at ``path`` (query string included when given); returns the page's URL."""
        self._pages[path] = answer
        return self.url(path)

    def otherwise(self, answer: Answer) -> None:
        """What every path without a page answers (404 by default)."""
        self._fallback = answer

    def answer_for(self, seen: Seen) -> Answer:
        return self._pages.get(seen.path) or self._pages.get(seen.path.split("?", 1)[0]) or self._fallback

    def hits(self, path: str) -> int:
        return sum(1 for seen in self.requests if seen.path == path)

    def start(self) -> Site:
        self._thread.start()
        return self

    def close(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> Site:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class Web:
    """Several sites at once, closed together: ``with Web() as web: a = web.site()``."""

    def __init__(self) -> None:
        self.sites: list[Site] = []

    def site(self) -> Site:
        site = Site().start()
        self.sites.append(site)
        return site

    def __enter__(self) -> Web:
        return self

    def __exit__(self, *exc_info: object) -> None:
        for site in self.sites:
            site.close()


def early_hints_forever() -> Page:
    """``103 Early Hints`` answers and never a final one: only a total deadline ends the request."""
    return Page(raw=b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n" * 100, endless=True)


def early_hints_flood(count: int = 10_000) -> Page:
    """``count`` 103 answers before a real one: a client that restarts its timer on each never ends."""
    hints = b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n" * count
    final = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 2\r\n\r\nok"
    return Page(raw=hints + final)


def wait_for_requests(site: Site, count: int, timeout: float = 5.0) -> Iterator[Seen]:
    """Poll until ``site`` has seen ``count`` requests (the worker runs elsewhere); yields them."""
    deadline = time.monotonic() + timeout
    while len(site.requests) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    yield from site.requests


def free_loopback_port(address: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((address, 0))
        return probe.getsockname()[1]


__all__ = ["Page", "Seen", "Site", "Web", "early_hints_flood", "early_hints_forever", "free_loopback_port", "gzip_bomb", "html",
           "redirect", "wait_for_requests"]
