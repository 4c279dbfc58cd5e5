"""A loopback stand-in for many remote inboxes that checks every delivery's HTTP signature.

Used by ``bench/federation.py``. Each receiver process binds one listening socket per address it is given
(explicitly, e.g. ``127.0.1.1:PORT``; never a wildcard address), speaks just enough HTTP/1.1 (keep-alive,
Content-Length bodies) and, for every ``POST /inbox``:

- parses and verifies the draft-cavage signature with ``linkblog.federation.signatures`` against the one
  public key it was given (the instance owner's, read from the instance database) and its key id;
- checks that the signed ``Host`` is the address and port the request actually arrived on;
- answers 202 when everything holds, 401 otherwise (with the reason counted).

Counts are kept per activity id (``id`` of the JSON body) and per inbox, so a delivery that arrives twice
is seen. ``GET /_stats`` on any of the process's addresses answers them as JSON. A process started with
``start_receivers`` stops when its parent terminates it, and by itself after ``lifetime`` seconds.
"""
from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import resource
import signal
import socket
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone

import httpx

MAX_HEADER = 64 * 1024
MAX_BODY = 1024 * 1024


def addresses(count: int) -> list[str]:
    """``count`` distinct loopback addresses: 127.0.1.1 ... 127.0.1.250, 127.0.2.1 ... (250 per /24)."""
    return [f"127.0.{1 + i // 250}.{1 + i % 250}" for i in range(count)]


@dataclass
class Stats:
    verified: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))  # activity -> inbox -> n
    failed: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))    # activity -> reason -> n
    first: dict[str, float] = field(default_factory=dict)   # activity -> time.time() of its first request
    last: dict[str, float] = field(default_factory=dict)
    other: Counter = field(default_factory=Counter)         # requests that were not POST /inbox
    connections: int = 0

    def as_json(self) -> dict:
        activities = set(self.verified) | set(self.failed)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "pid": os.getpid(),
            "cpu_seconds": usage.ru_utime + usage.ru_stime,
            "connections": self.connections,
            "other": dict(self.other),
            "activities": {a: {"verified": sum(self.verified[a].values()),
                               "inboxes": len(self.verified[a]),
                               "twice": sum(1 for n in self.verified[a].values() if n > 1),
                               "failed": sum(self.failed[a].values()),
                               "reasons": dict(self.failed[a].most_common(5)),
                               "first": self.first.get(a), "last": self.last.get(a)}
                           for a in activities},
        }


class Inbox(asyncio.Protocol):
    """One connection; requests are handled one after another as they complete in the buffer."""

    def __init__(self, server: "Receiver") -> None:
        self.server = server
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.local = ""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        host, port = transport.get_extra_info("sockname")[:2]
        self.local = f"{host}:{port}"
        self.server.stats.connections += 1

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.transport is not None and not self.transport.is_closing():
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > MAX_HEADER:
                    self._reply(431, b"", close=True)
                return
            request = parse_head(self.buffer[:end])
            if request is None:
                self._reply(400, b"", close=True)
                return
            method, target, headers = request
            length = int(headers.get("content-length", "0") or 0)
            if length > MAX_BODY:
                self._reply(413, b"", close=True)
                return
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4:end + 4 + length]
            self.buffer = self.buffer[end + 4 + length:]
            status, answer, *kind = self.server.handle(method, target, headers, body, self.local)
            self._reply(status, answer, close=headers.get("connection", "").lower() == "close",
                        content_type=kind[0] if kind else "application/json")

    def _reply(self, status: int, body: bytes, close: bool = False,
               content_type: str = "application/json") -> None:
        assert self.transport is not None
        reason = {200: "OK", 202: "Accepted", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
                  413: "Content Too Large", 431: "Request Header Fields Too Large"}.get(status, "Other")
        close_line = "Connection: close\r\n" if close else ""
        head = (f"HTTP/1.1 {status} {reason}\r\nContent-Length: {len(body)}\r\n"
                f"Content-Type: {content_type}\r\n{close_line}\r\n")
        self.transport.write(head.encode("latin-1") + body)
        if close:
            self.transport.close()


class Receiver:
    def __init__(self, public_key_pem: str, key_id: str) -> None:
        from linkblog.federation import signatures as httpsig

        self.httpsig = httpsig
        self.public_key_pem = public_key_pem
        self.key_id = key_id
        self.stats = Stats()

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes,
               local: str) -> tuple[int, bytes]:
        if method == "GET" and target == "/_stats":
            return 200, json.dumps(self.stats.as_json()).encode()
        if method != "POST" or target != "/inbox":
            self.stats.other[f"{method} {target}"] += 1
            return 404, b""
        now = time.time()
        try:
            activity = str(json.loads(body).get("id") or "?")
        except (ValueError, AttributeError):
            activity = "?"
        self.stats.first.setdefault(activity, now)
        self.stats.last[activity] = now
        reason = self.check(method, target, headers, body, local)
        if reason:
            self.stats.failed[activity][reason] += 1
            return 401, json.dumps({"error": reason}).encode()
        self.stats.verified[activity][local] += 1
        return 202, b""

    def check(self, method: str, target: str, headers: dict[str, str], body: bytes, local: str) -> str:
        """'' when the request is signed by the expected key for this very inbox, else why not."""
        httpsig = self.httpsig
        incoming = httpsig.IncomingRequest(method=method, target=target, headers=headers, body=body,
                                           scheme="http")
        parsed = httpsig.parse_signature(incoming)
        if isinstance(parsed, httpsig.Rejected):
            return f"parse: {parsed.reason}"
        if parsed.key_id != self.key_id:
            return f"unexpected key id {parsed.key_id}"
        if "host" not in parsed.covered or headers.get("host") != local:
            return f"signed host {headers.get('host')!r} is not this inbox ({local})"
        verdict = httpsig.verify_parsed(parsed, self.public_key_pem, datetime.now(timezone.utc))
        if isinstance(verdict, httpsig.Rejected):
            return f"verify: {verdict.reason}"
        return ""


class Actors:
    """Serves one actor document per address (``GET /users/bench``), counting fetches per actor."""

    def __init__(self, documents: dict[str, dict]) -> None:
        self.documents = {host: json.dumps(doc).encode() for host, doc in documents.items()}
        self.fetches: Counter = Counter()
        self.stats = Stats()  # only its connection count is used

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes,
               local: str) -> tuple[int, bytes, str]:
        host = local.rsplit(":", 1)[0]
        if method == "GET" and target == "/_stats":
            usage = resource.getrusage(resource.RUSAGE_SELF)
            return 200, json.dumps({"pid": os.getpid(), "fetches": dict(self.fetches),
                                    "cpu_seconds": usage.ru_utime + usage.ru_stime}).encode(), "application/json"
        if method == "GET" and target == "/users/bench" and host in self.documents:
            self.fetches[host] += 1
            return 200, self.documents[host], "application/activity+json"
        self.fetches[f"other {method} {target}"] += 1
        return 404, b"", "application/json"


def parse_head(head: bytes) -> tuple[str, str, dict[str, str]] | None:
    """An HTTP/1.1 request head (without its blank line) as method, target and headers (names lower-cased, a
    repeated header's values joined with commas); None when the request line is malformed."""
    lines = head.decode("latin-1").split("\r\n")
    try:
        method, target, _version = lines[0].split(" ", 2)
    except ValueError:
        return None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        key = name.strip().lower()
        headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
    return method, target, headers


def _serve(kind: str, hosts: list[str], port: int, handler_args: tuple, lifetime: float,
           ready: "multiprocessing.connection.Connection") -> None:
    """Process body: bind every address, report readiness (or the error), serve until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C goes to the parent, which stops us
    try:  # and if the parent dies without stopping us, the kernel sends SIGTERM (PR_SET_PDEATHSIG)
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)
    except (OSError, AttributeError):
        pass

    async def main() -> None:
        handler = Receiver(*handler_args) if kind == "inbox" else Actors(*handler_args)
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        servers = []
        try:
            for host in hosts:
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((host, port))  # one explicit loopback address per socket
                servers.append(await loop.create_server(lambda: Inbox(handler), sock=sock, backlog=512))
        except OSError as exc:
            ready.send(f"cannot listen on {host}:{port}: {exc}")
            return
        ready.send("ok")
        try:
            await asyncio.wait_for(stop.wait(), lifetime)
        except asyncio.TimeoutError:
            pass
        for server in servers:
            server.close()

    asyncio.run(main())


class _Processes:
    """Server processes sharing the addresses between them; each stops when terminated (by its pid) or
    after ``lifetime`` seconds."""

    kind = ""

    def __init__(self, hosts: list[str], port: int, handler_args: tuple, processes: int,
                 lifetime: float = 1800) -> None:
        for host in hosts:
            if not host.startswith("127."):
                raise ValueError(f"{host} is not a loopback address")
        self.hosts, self.port = hosts, port
        per = -(-len(hosts) // processes)
        self.groups = [hosts[i:i + per] for i in range(0, len(hosts), per)]
        self.handler_args, self.lifetime = handler_args, lifetime
        self.procs: list[multiprocessing.Process] = []

    def start(self, timeout: float = 30) -> None:
        context = multiprocessing.get_context("spawn")
        waiting = []
        for group in self.groups:
            parent, child = context.Pipe(duplex=False)
            proc = context.Process(target=_serve, args=(self.kind, group, self.port, self.handler_args,
                                                        self.lifetime, child),
                                   name=f"linkblog-bench-{self.kind}", daemon=True)
            proc.start()
            self.procs.append(proc)
            waiting.append(parent)
        for parent in waiting:
            if not parent.poll(timeout):
                raise RuntimeError(f"a {self.kind} server process did not start in time")
            message = parent.recv()
            if message != "ok":
                raise RuntimeError(message)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs if p.pid is not None]

    def stats(self) -> list[dict]:
        out = []
        with httpx.Client(timeout=10, trust_env=False) as client:
            for group in self.groups:
                out.append(client.get(f"http://{group[0]}:{self.port}/_stats").json())
        return out

    def stop(self) -> None:
        for proc in self.procs:
            if proc.is_alive():
                proc.terminate()  # SIGTERM to this process id only
        for proc in self.procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=5)


class Receivers(_Processes):
    """The follower inboxes: verify and count every delivery."""

    kind = "inbox"

    def __init__(self, hosts: list[str], port: int, public_key_pem: str, key_id: str, processes: int = 2,
                 lifetime: float = 1800) -> None:
        super().__init__(hosts, port, (public_key_pem, key_id), processes, lifetime)

    def activity(self, activity_id: str) -> dict:
        """Totals over every process for one activity."""
        total = {"verified": 0, "inboxes": 0, "twice": 0, "failed": 0, "reasons": Counter(),
                 "first": None, "last": None, "cpu_seconds": 0.0}
        for part in self.stats():
            total["cpu_seconds"] += part["cpu_seconds"]
            a = part["activities"].get(activity_id)
            if not a:
                continue
            for key in ("verified", "inboxes", "twice", "failed"):
                total[key] += a[key]
            total["reasons"].update(a["reasons"])
            for key, pick in (("first", min), ("last", max)):
                if a[key] is not None:
                    total[key] = a[key] if total[key] is None else pick(total[key], a[key])
        total["reasons"] = dict(total["reasons"])
        return total


class ActorServers(_Processes):
    """The remote actors whose keys sign inbox POSTs: one document per address."""

    kind = "actors"

    def __init__(self, hosts: list[str], port: int, documents: dict[str, dict], processes: int = 1,
                 lifetime: float = 1800) -> None:
        super().__init__(hosts, port, (documents,), processes, lifetime)

    def fetches(self) -> dict:
        merged: Counter = Counter()
        for part in self.stats():
            merged.update(part["fetches"])
        return {"total": sum(v for k, v in merged.items() if not k.startswith("other")),
                "actors": sum(1 for k in merged if not k.startswith("other")),
                "other": {k: v for k, v in merged.items() if k.startswith("other")}}
