"""Slow-peer benchmark: home page latency while eight slow key servers hold inbox requests.

    .venv/bin/python bench/slow_peers.py                     # fresh instance, idle vs under attack, report
    .venv/bin/python bench/slow_peers.py --requests 500 --hints-every 3

A fresh instance from the real CLI (``linkblog init --dir bench/out/slow``, ``[federation]
allow_private_addresses = true`` for the loopback key servers, 20 public bookmarks saved through
``bookmarks.create``) runs under the production server, ``linkblog serve`` (gunicorn, 2 workers x 4
threads, plus the federation worker), with its output in ``bench/out/slow/serve.log``.

1. **Idle**: ``--requests`` sequential ``GET /`` over one client (after a warm-up): p50 and p95.
2. **Under attack**: eight key servers on loopback (asyncio, one port each) answer every request with
   ``HTTP/1.1 103 Early Hints`` every ``--hints-every`` seconds, forever: without a total deadline such a
   fetch never ends. Eight attackers each keep one signed inbox POST in flight, every POST with a fresh
   keyId on its own key server (so no failure cache helps), sending the next ``--pause`` seconds after
   each answer. While they do, ``GET /`` is measured again as in 1.

It prints both p50s against the target (home p50 under attack within 2x of idle), and every inbox
answer: how many, their statuses, p50 and the longest, against ``[federation] fetch_timeout``.
Only 127.0.0.1 is ever contacted; every phase is bounded; every process started is stopped. It exits 0
whether or not the targets are met (1 only when it could not run at all).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import federation  # noqa: E402
import seed  # noqa: E402
import web  # noqa: E402

ROOT = seed.ROOT
HOST = "127.0.0.1"
DEFAULT_DIR = ROOT / "bench" / "out" / "slow"
DEFAULT_PORT = 8768
KEY_SERVER_PORT = 8780           # the eight key servers listen on 8780-8787
RATIO_TARGET = 2.0               # home p50 under attack / idle
HINT = b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"


# --- the instance under the production server ---------------------------------------------------------------

def make_instance(directory: Path, port: int, fetch_timeout: int) -> Path:
    config_file = federation.make_instance(directory, port)
    text = config_file.read_text(encoding="utf-8")
    text = text.replace("allow_private_addresses = true\n",
                        f"allow_private_addresses = true\nfetch_timeout = {fetch_timeout}\n")
    config_file.write_text(text, encoding="utf-8")
    return config_file


def add_bookmarks(config, engine, count: int) -> None:  # noqa: ANN001
    from linkblog import bookmarks

    with engine.begin() as conn:
        for index in range(count):
            bookmarks.create(conn, bookmarks.BookmarkInput(
                url=f"https://bench.example/slow/{index}", title=f"A link worth reading, number {index}",
                annotation="Some *Markdown* to render, as most bookmarks have.", quote="",
                tags=["bench", f"tag{index % 5}"], visibility="public"), config=config)


class Serve(web.Server):
    """``linkblog serve`` (this checkout's code) instead of bare gunicorn; stopping is web.Server's."""

    def start(self, timeout: float = 60) -> None:
        env = federation.clean_env()
        env["PYTHONPATH"] = str(ROOT)
        cmd = [sys.executable, "-m", "linkblog.cli", "--config", self.config, "serve", "--port", str(self.port),
               "--workers", str(self.workers)]
        print("$ linkblog " + " ".join(cmd[3:]))
        self.proc = subprocess.Popen(cmd, env=env, cwd=str(ROOT), stdin=subprocess.DEVNULL,
                                     stdout=self.log.open("w"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"linkblog serve exited with {self.proc.returncode}; see {self.log}")
            try:
                if httpx.get(f"http://{HOST}:{self.port}/", timeout=5).status_code == 200:
                    self.worker_pids = web.children_of(self.proc.pid)
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"linkblog serve did not answer within {timeout:.0f} s; see {self.log}")


# --- the slow key servers -----------------------------------------------------------------------------------

class KeyServers:
    """``count`` key servers on consecutive ports answering ``103 Early Hints`` every ``interval`` s, forever."""

    def __init__(self, first_port: int, count: int, interval: float) -> None:
        self.ports = list(range(first_port, first_port + count))
        self.interval = interval
        self.requests = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> KeyServers:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the key servers did not start")
        return self

    def stop(self) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._main())
        self._loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        servers = [await asyncio.start_server(self._answer, HOST, port) for port in self.ports]
        self._ready.set()
        await self._stop.wait()
        for server in servers:
            server.close()
        for task in [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]:
            task.cancel()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            self.requests += 1
            while True:
                writer.write(HINT)
                await writer.drain()
                await asyncio.sleep(self.interval)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.CancelledError):
            pass
        finally:
            writer.close()


# --- the attackers ------------------------------------------------------------------------------------------

class Attackers:
    """One thread per key server, each keeping a signed inbox POST in flight with a fresh keyId there."""

    def __init__(self, base_url: str, ports: list[int], private_pem: str, pause: float, timeout: float) -> None:
        self.base_url, self.ports, self.private_pem, self.pause = base_url, ports, private_pem, pause
        self.timeout = timeout
        self.answers: list[tuple[str, float]] = []   # (status or error, seconds)
        self.in_flight = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._attack, args=(port,), daemon=True) for port in ports]

    def start(self) -> Attackers:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        """Stop sending; the POSTs in flight get their answers (or the client timeout) first."""
        self._stop.set()
        for thread in self._threads:
            thread.join(self.timeout + 5)

    def _post(self, client: httpx.Client, port: int) -> None:
        from linkblog.federation.signatures import sign_headers

        actor = f"http://{HOST}:{port}/users/{uuid.uuid4().hex[:12]}"
        body = json.dumps({"@context": "https://www.w3.org/ns/activitystreams", "id": f"{actor}/{uuid.uuid4()}",
                           "type": "Create", "actor": actor,
                           "object": {"id": f"{actor}/note/{uuid.uuid4()}", "type": "Note",
                                      "content": "hello"}}).encode()
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        headers = sign_headers("POST", self.base_url + "/inbox", {}, body, f"{actor}#main-key", self.private_pem, now)
        started = time.perf_counter()
        with self._lock:
            self.in_flight += 1
        try:
            response = client.post(self.base_url + "/inbox", content=body,
                                   headers={**headers, "Content-Type": "application/activity+json"})
            outcome = str(response.status_code)
        except httpx.HTTPError as exc:
            outcome = type(exc).__name__
        finally:
            with self._lock:
                self.in_flight -= 1
        with self._lock:
            self.answers.append((outcome, time.perf_counter() - started))

    def _attack(self, port: int) -> None:
        with httpx.Client(timeout=self.timeout) as client:
            while not self._stop.is_set():
                self._post(client, port)
                self._stop.wait(self.pause)


# --- measuring ----------------------------------------------------------------------------------------------

def home_latency(port: int, count: int) -> tuple[list[float], Counter]:
    """Each request on a new connection, as a new reader arrives: gunicorn hands it to whichever
    process accepts it first, busy or not (a kept-alive connection would stay with one process)."""
    statuses: Counter = Counter()
    with httpx.Client(timeout=60, limits=httpx.Limits(max_keepalive_connections=0)) as client:
        web.sequential(client, f"http://{HOST}:{port}/", 20, Counter())   # warm-up
        times = web.sequential(client, f"http://{HOST}:{port}/", count, statuses)
    return times, statuses


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="instance folder (recreated every run)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--key-server-port", type=int, default=KEY_SERVER_PORT, help="first of the key servers' ports")
    parser.add_argument("--attackers", type=int, default=8, help="slow key servers, one POST in flight on each")
    parser.add_argument("--hints-every", type=float, default=2.0, help="seconds between two 103 answers")
    parser.add_argument("--pause", type=float, default=0.5, help="seconds an attacker waits after each answer")
    parser.add_argument("--fetch-timeout", type=int, default=10, help="[federation] fetch_timeout of the instance")
    parser.add_argument("--requests", type=int, default=300, help="sequential GET / per phase")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    if not 1 <= args.attackers <= 64 or not 0.1 <= args.hints_every <= 30 or not 1 <= args.fetch_timeout <= 120 \
            or not 10 <= args.requests <= 5000 or not 0 <= args.pause <= 30:
        parser.error("keep --attackers 1-64, --hints-every 0.1-30, --fetch-timeout 1-120, --requests 10-5000, "
                     "--pause 0-30")
    ports = [args.port, *range(args.key_server_port, args.key_server_port + args.attackers)]
    busy = [port for port in ports if not web.port_is_free(port)]
    if busy:
        print(f"ports {busy} on {HOST} are in use; choose others (--port, --key-server-port)")
        return 1
    directory = args.dir.resolve()
    try:
        config_file = make_instance(directory, args.port, args.fetch_timeout)
    except RuntimeError as exc:
        print(f"benchmark could not run: {exc}")
        return 1
    config, engine = federation.load(config_file)
    add_bookmarks(config, engine, 20)
    engine.dispose()
    from linkblog.federation.keys import generate_key_pair
    private_pem, _ = generate_key_pair()

    server = Serve(str(config_file), args.port, 2, directory / "serve.log")
    key_servers = KeyServers(args.key_server_port, args.attackers, args.hints_every)
    attackers: Attackers | None = None
    results: dict = {"fetch_timeout": args.fetch_timeout, "attackers": args.attackers,
                     "hints_every": args.hints_every, "requests": args.requests}
    try:
        server.start()
        web.wait_for_quiet(10)
        idle, idle_statuses = home_latency(args.port, args.requests)
        results["idle"] = {"p50_ms": web.percentile(idle, 0.5), "p95_ms": web.percentile(idle, 0.95),
                           "statuses": dict(idle_statuses)}
        key_servers.start()
        attackers = Attackers(f"http://{HOST}:{args.port}", key_servers.ports, private_pem, args.pause,
                              timeout=args.fetch_timeout * 3 + 30).start()
        held_until = time.monotonic() + 10
        while key_servers.requests < min(args.attackers, 4) and time.monotonic() < held_until:
            time.sleep(0.05)
        results["key_requests_before_measuring"] = key_servers.requests
        started = time.monotonic()
        attacked, attacked_statuses = home_latency(args.port, args.requests)
        results["attack_seconds"] = time.monotonic() - started
        results["under_attack"] = {"p50_ms": web.percentile(attacked, 0.5),
                                   "p95_ms": web.percentile(attacked, 0.95), "statuses": dict(attacked_statuses)}
        if results["attack_seconds"] < args.fetch_timeout + 2:   # long enough for held POSTs to time out
            time.sleep(args.fetch_timeout + 2 - results["attack_seconds"])
    except RuntimeError as exc:
        print(f"benchmark could not run: {exc}")
        return 1
    finally:
        if attackers is not None:
            attackers.stop()
        key_servers.stop()
        server.stop()
    results["key_requests"] = key_servers.requests
    seconds = [s for _, s in attackers.answers] if attackers else []
    results["inbox"] = {"answers": len(seconds), "statuses": dict(Counter(o for o, _ in attackers.answers)),
                        "p50_s": web.percentile(seconds, 0.5), "max_s": max(seconds, default=float("nan")),
                        "slowest_s": sorted(seconds)[-10:]}
    report(results)
    out = args.json or (ROOT / "bench" / "out" / "slow-peers.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(f"\nfigures saved to {out}")
    return 0


def report(results: dict) -> None:
    idle, attacked, inbox = results["idle"], results["under_attack"], results["inbox"]
    ratio = attacked["p50_ms"] / idle["p50_ms"] if idle["p50_ms"] else float("nan")
    deadline = results["fetch_timeout"]
    print(f"\nslow key servers: {results['attackers']} (103 Early Hints every {results['hints_every']:g} s, "
          f"forever); [federation] fetch_timeout = {deadline} s; {results['key_requests']} key fetches reached them")
    print(f"home, idle:          p50 {idle['p50_ms']:7.2f} ms   p95 {idle['p95_ms']:7.2f} ms   "
          f"{idle['statuses']}")
    print(f"home, under attack:  p50 {attacked['p50_ms']:7.2f} ms   p95 {attacked['p95_ms']:7.2f} ms   "
          f"{attacked['statuses']}   ({results['attack_seconds']:.1f} s)")
    print(f"home p50 under attack / idle: {ratio:.2f}x {web.verdict(ratio, RATIO_TARGET, at_most=True)}")
    print(f"inbox POSTs answered: {inbox['answers']} {inbox['statuses']}; p50 {inbox['p50_s']:.2f} s, "
          f"longest {inbox['max_s']:.2f} s {web.verdict(inbox['max_s'], deadline + 1, at_most=True)}")
    print("slowest inbox answers (s): " + ", ".join(f"{s:.2f}" for s in inbox["slowest_s"]))


if __name__ == "__main__":
    sys.exit(main())
