"""A loopback web of many hosts for the link-check benchmark (``bench/links.py``).

Each process binds one listening socket per loopback address it is given (``127.0.x.y:PORT``, never a
wildcard address: Linux routes all of 127.0.0.0/8 to the loopback device) and answers from the path alone,
so no state is shared between processes:

- ``/a<n>``: an article page with an ``ETag`` (``304`` to a matching ``If-None-Match``);
- ``/b<n>``: an article page without validators;
- ``/r<n>``: ``301`` to ``/a<n>-moved``;
- ``/g<n>``: ``404``;
- ``/h<n>``: ``405`` to HEAD, the article to GET;
- ``/w<n>``: ``429`` with ``Retry-After: 3600``.

Article pages are drawn from a pool built once per process by ``article()``: markup-heavy HTML as real
articles are (scripts and styles in the head, navigation, a sidebar, the text in paragraphs with links and
emphasis, a footer, more scripts). Per host it records when each HEAD arrived (a check starts with a HEAD)
and how many connections were open at once (the checker keeps an idle connection per host for reuse, so a
second one opens only when a request is sent while another is under way), so the benchmark can show that
the checker kept ``per_host_gap`` and never asked one host twice at once. ``GET /_stats`` on any address answers them as JSON.
"""
from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import random
import resource
import signal
import socket
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from receiver import parse_head  # noqa: E402  (the follower inboxes' benchmark server)

MAX_HEADER = 64 * 1024
VOCABULARY = [f"{a}{b}" for a in ("pro", "con", "re", "de", "in", "ex", "sub", "trans", "inter", "over")
              for b in ("gress", "tract", "form", "port", "duct", "ject", "spect", "scribe", "struct", "mit",
                        "vert", "pose", "press", "cede", "tain", "fer", "sist", "vene", "pel", "clude")]
COMMON = ("the of and to in a is that for it as was with be by on not he this are or his from at which but "
          "have an they you were her she there been one all we their has would when if so no").split()


def addresses(count: int) -> list[str]:
    """``count`` distinct loopback addresses: 127.0.1.1 ... 127.0.1.250, 127.0.2.1 ... (250 per /24)."""
    return [f"127.0.{1 + i // 250}.{1 + i % 250}" for i in range(count)]


def article(rng: random.Random, size: int) -> bytes:
    """An article page of about ``size`` bytes of HTML, about a fifth of it visible text (the rest markup,
    scripts, styles and icons, as on real article pages)."""
    def words(n: int) -> str:
        return " ".join(rng.choice(COMMON) if rng.random() < 0.45 else rng.choice(VOCABULARY) for _ in range(n))

    head = ("<head><meta charset=\"utf-8\"><title>" + words(8) + "</title>"
            + "".join(f'<meta property="og:{k}" content="{words(12)}">' for k in ("title", "description", "site"))
            + "".join(f'<link rel="stylesheet" href="/static/{n}.css">' for n in range(6))
            + "<style>" + "".join(f".c{n}{{margin:{n}px;padding:{n % 7}px;color:#{n:06x}}}" for n in range(120))
            + "</style><script>" + "".join(f"window.d{n}={{id:{n},v:'{words(4)}'}};" for n in range(60))
            + "</script><script>" + "".join(f"function f{n}(a,b){{return a.map(x=>x*{n}+b).filter(Boolean)}};"
                                            for n in range(size // 240)) + "</script></head>")
    nav = ("<header><nav class=\"site-nav\"><ul>" + "".join(f'<li class="item"><a href="/section/{n}">{words(2)}'
                                                            "</a></li>" for n in range(40)) + "</ul></nav></header>")
    aside = ("<aside class=\"related\"><ul>" + "".join(f'<li><a href="/post/{n}" class="related-link">'
                                                       f"{words(7)}</a></li>" for n in range(25)) + "</ul></aside>")
    tail = ("<footer class=\"site-footer\"><p>" + words(40) + "</p></footer><script>"
            + "".join(f"track('{n}',{{a:{n},b:'{words(3)}'}});" for n in range(40)) + "</script>")
    paragraphs: list[str] = []
    fixed = len(head) + len(nav) + len(aside) + len(tail) + 200
    while fixed + sum(map(len, paragraphs)) < size:
        n = len(paragraphs)
        block = (f'<div class="article-body__block c{n % 120}" data-block-id="{n}" data-track="para-{n}">'
                 f'<div class="article-body__inner layout--wide"><p class="body-text body-text--serif">{words(30)} '
                 f'<a href="https://example.org/{n}/{words(2).replace(" ", "-")}" rel="noopener" '
                 f'class="inline-link inline-link--external" data-analytics="link-{n}">{words(3)}</a> '
                 f"<em>{words(3)}</em> {words(20)}.</p></div></div>")
        if n % 3 == 2:   # what sits between paragraphs: share buttons with icons, an ad slot and its script
            block += ('<div class="share-bar" role="group" aria-label="Share">' + "".join(
                f'<button class="share-bar__button share-bar__button--{k}" data-share="{k}" type="button">'
                f'<svg viewBox="0 0 24 24" width="24" height="24" aria-hidden="true"><path d="M{n} 2L{k[:1]} 22z '
                f'M3 3h18v18H3z"/></svg></button>' for k in ("mail", "copy", "social"))
                + f'</div><div class="ad-slot ad-slot--inline" id="ad-{n}" data-ad-unit="/1234/article/inline-{n}">'
                f"<script>googletag.cmd.push(function(){{googletag.display('ad-{n}');}});</script></div>")
        if n % 6 == 5:
            block += (f'<figure class="img"><picture><source srcset="/i/{n}.avif 1x, /i/{n}@2x.avif 2x" '
                      f'type="image/avif"><img src="/i/{n}.jpg" alt="{words(5)}" width="800" height="600" '
                      f'loading="lazy" decoding="async"></picture><figcaption>{words(9)}</figcaption></figure>')
        paragraphs.append(block)
    page = (f"<!doctype html><html lang=\"en\">{head}<body class=\"article\">{nav}<main><article><h1>{words(8)}"
            f"</h1>{''.join(paragraphs)}</article>{aside}</main>{tail}</body></html>")
    return page.encode()


class Stats:
    def __init__(self) -> None:
        self.requests = 0
        self.heads: dict[str, list[float]] = defaultdict(list)   # host -> monotonic arrival of each HEAD
        self.open: dict[str, int] = defaultdict(int)
        self.most_at_once = 0                                   # most connections open at once to one host

    def as_json(self) -> dict:
        gaps = [b - a for times in self.heads.values() for a, b in zip(times, times[1:])]
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {"pid": os.getpid(), "requests": self.requests, "hosts_asked": len(self.heads),
                "smallest_gap": min(gaps) if gaps else None, "most_connections_per_host": self.most_at_once,
                "cpu_seconds": usage.ru_utime + usage.ru_stime}


class Site(asyncio.Protocol):
    """One connection; requests are answered in order as they complete in the buffer (keep-alive)."""

    def __init__(self, pages: list[bytes], stats: Stats) -> None:
        self.pages, self.stats = pages, stats
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.host = ""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.host = transport.get_extra_info("sockname")[0]
        self.stats.open[self.host] += 1
        self.stats.most_at_once = max(self.stats.most_at_once, self.stats.open[self.host])

    def connection_lost(self, exc: Exception | None) -> None:
        self.stats.open[self.host] -= 1

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.transport is not None and not self.transport.is_closing():
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > MAX_HEADER:
                    self.transport.close()
                return
            request = parse_head(self.buffer[:end])
            self.buffer = self.buffer[end + 4:]     # HEAD and GET only: no request bodies
            if request is None:
                self.transport.close()
                return
            method, target, headers = request
            self.stats.requests += 1
            if method == "HEAD" and "-" not in target:     # a check's first request (not a redirect's target)
                self.stats.heads[self.host].append(time.monotonic())
            status, extra, body = self.answer(method, target, headers)
            reason = {200: "OK", 301: "Moved Permanently", 304: "Not Modified", 404: "Not Found",
                      405: "Method Not Allowed", 429: "Too Many Requests"}.get(status, "Other")
            head = f"HTTP/1.1 {status} {reason}\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
            self.transport.write(head.encode("latin-1") + (b"" if method == "HEAD" else body))

    def answer(self, method: str, target: str, headers: dict[str, str]) -> tuple[int, str, bytes]:
        if target == "/_stats":
            return 200, "Content-Type: application/json\r\n", json.dumps(self.stats.as_json()).encode()
        kind, number = target[1:2], target[2:].split("-", 1)[0]
        n = int(number) if number.isdigit() else 0
        html = "Content-Type: text/html; charset=utf-8\r\n"
        page = self.pages[(n * 7919 + sum(map(ord, self.host))) % len(self.pages)]
        if kind == "a":
            tag = f'"v{n}"'
            if headers.get("if-none-match") == tag:
                return 304, f"ETag: {tag}\r\n", b""
            return 200, f"{html}ETag: {tag}\r\n", page
        if kind == "b" or (kind == "h" and method == "GET"):
            return 200, html, page
        if kind == "r":
            return 301, f"Location: /a{n}-moved\r\n", b""
        if kind == "h":
            return 405, "Allow: GET\r\n", b""
        if kind == "w":
            return 429, "Retry-After: 3600\r\n", b""
        return 404, "Content-Type: text/plain\r\n", b"not found"


def _serve(hosts: list[str], port: int, sizes: list[int], lifetime: float,
           ready: "multiprocessing.connection.Connection") -> None:
    """Process body: build the page pool, bind every address, report readiness (or the error), serve."""
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    rng = random.Random(port)
    pages = [article(rng, size) for size in sizes]
    stats = Stats()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        servers = []
        try:
            for host in hosts:
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((host, port))
                sock.listen(128)
                servers.append(await loop.create_server(lambda: Site(pages, stats), sock=sock))
        except OSError as exc:
            ready.send(f"error: {exc}")
            return
        ready.send("ready")
        await asyncio.sleep(lifetime)

    asyncio.run(main())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.1.1", 0))
        return probe.getsockname()[1]


def start(hosts: list[str], port: int, processes: int = 2, lifetime: float = 1800.0,
          sizes: list[int] | None = None) -> list[multiprocessing.Process]:
    """Serve ``hosts`` on ``port`` from ``processes`` processes; returns them once every address is bound."""
    sizes = sizes or [30_000 + 3_000 * n for n in range(40)]     # 30 to 147 KB of HTML, 88 KB on average
    context = multiprocessing.get_context("fork")
    procs = []
    for n in range(processes):
        parent, child = context.Pipe()
        proc = context.Process(target=_serve, args=(hosts[n::processes], port, sizes, lifetime, child), daemon=True)
        proc.start()
        procs.append((proc, parent))
    for proc, parent in procs:
        if not parent.poll(60) or (message := parent.recv()) != "ready":
            stop([p for p, _ in procs])
            raise RuntimeError(f"the loopback web did not start: {locals().get('message', 'time-out')}")
    return [p for p, _ in procs]


def stop(procs: list[multiprocessing.Process]) -> None:
    for proc in procs:
        if proc.is_alive():
            proc.terminate()
    for proc in procs:
        proc.join(5)


__all__ = ["addresses", "article", "free_port", "start", "stop"]
