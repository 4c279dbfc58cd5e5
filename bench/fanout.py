"""Fan-out from a plain ``linkblog serve``, measured from outside: the API call to the last arrival.

    .venv/bin/python bench/fanout.py                        # 1,000 distinct inboxes, then 10,000 on 1,000 hosts
    .venv/bin/python bench/fanout.py --only distinct --followers 1000
    .venv/bin/python bench/fanout.py --only shared --followers 10000 --hosts 1000

An instance from the real CLI (``linkblog init``, private addresses allowed for the loopback peers), started
as the README starts it: ``linkblog --config … serve`` with nothing tuned. Followers are remote actors on
distinct loopback addresses served by ``bench/receiver.py``, which verifies every request's signature with
the owner's public key and counts each activity per inbox (so a delivery that arrives twice is seen).

- **distinct**: one follower per host, each with its own inbox and no shared inbox (the worst case: no
  connection is ever reused, every one is cold).
- **shared**: ``--followers`` actors on ``--hosts`` hosts, each host with a shared inbox (Mastodon's shape):
  one delivery per host.

For each: the home page's p50 idle, one public bookmark saved through ``POST /api/bookmarks`` (a bearer
token), the time from that call to the last arrival at any inbox, every signature checked, duplicates
counted, the home page's p50 (a request every 20 ms, ``--home-interval``) and the inbox's answers while the
fan-out runs; then a burst of signed inbox POSTs (Likes from 50 actors whose keys are fetched once), and the memory of every process of ``serve``
after both (RSS summed, and PSS, which counts pages shared between the forked processes once).

Only 127.0.0.0/8 is contacted; every process started is stopped. Prints each figure beside its target.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from collections import Counter

sys.path.insert(0, str(Path(__file__).resolve().parent))
import federation as fed  # noqa: E402
import receiver  # noqa: E402
import seed  # noqa: E402
import web  # noqa: E402

ROOT = seed.ROOT
HOST = "127.0.0.1"
PORT = 8767
RECEIVER_PORT = 8797
ACTOR_PORT = 8796
DEFAULT_DIR = ROOT / "bench" / "out" / "fanout"

RATE_TARGET, RATE_STRETCH = 600, 1000      # deliveries per second, distinct inboxes, cold connections
HOME_SLOWDOWN_TARGET = 2.0                 # home p50 during the fan-out, times its idle p50
MEMORY_TARGET_MB = 200                     # every process of `serve` together, after fan-out and inbox burst


def descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        children = web.children_of(todo.pop())
        found += children
        todo += children
    return found


def add_shared_followers(engine, count: int, hosts: list[str], port: int) -> None:  # noqa: ANN001
    """``count`` actors spread over ``hosts``, every host with one shared inbox (as Mastodon servers have)."""
    from sqlalchemy import insert, select

    from linkblog.db import utcnow
    from linkblog.models import Follower, RemoteActor

    A, F = RemoteActor.__table__, Follower.__table__
    now = utcnow()
    for start in range(0, count, 2000):
        actors = []
        for n in range(start, min(count, start + 2000)):
            host = hosts[n % len(hosts)]
            uri = f"http://{host}:{port}/users/f{n}"
            actors.append({"uri": uri, "inbox": f"{uri}/inbox", "shared_inbox": f"http://{host}:{port}/inbox",
                           "handle": f"f{n}@{host}:{port}", "display_name": f"Follower {n}",
                           "key_id": f"{uri}#main-key", "public_key_pem": None, "fetched_at": now,
                           "created_at": now})
        with engine.begin() as conn:
            conn.execute(insert(A), actors)
            ids = conn.execute(select(A.c.id, A.c.uri).where(A.c.uri.in_([a["uri"] for a in actors]))).all()
            conn.execute(insert(F), [{"actor_id": actor_id, "follow_uri": f"{uri}/follows/1", "state": "accepted",
                                      "created_at": now} for actor_id, uri in ids])


class Serve:
    """``linkblog --config FILE serve``, as the README starts it; stopped with SIGTERM like Ctrl+C."""

    def __init__(self, config_file: Path, log: Path) -> None:
        self.config_file, self.log = config_file, log
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> None:
        cmd = [str(seed.VENV_BIN / "linkblog"), "--config", str(self.config_file), "serve"]
        print("$ linkblog " + " ".join(cmd[1:]), flush=True)
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(cmd, env=fed.clean_env(), cwd=str(ROOT), stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"linkblog serve exited with {self.proc.returncode}; see {self.log}")
            try:
                if httpx.get(f"http://{HOST}:{PORT}/", timeout=5).status_code == 200 and self.worker_started():
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"linkblog serve did not answer within {timeout:.0f} s; see {self.log}")

    def worker_started(self) -> bool:
        return any(_is_worker(pid) for pid in self.pids())

    def pids(self) -> list[int]:
        assert self.proc is not None
        return [self.proc.pid, *descendants(self.proc.pid)]

    def memory(self) -> dict:
        rows = {pid: (_cmdline(pid).decode(errors="replace")[:80], web.rss_kb(pid), web.pss_kb(pid))
                for pid in self.pids()}
        parts = {pid: web.pss_parts_kb(pid) for pid in rows}
        return {"processes": [{"pid": pid, "role": self.role(pid), "command": c, "rss_mb": r / 1024, "pss_mb": p / 1024,
                               "pss_anonymous_mb": parts[pid]["anonymous"] / 1024,
                               "pss_files_mb": parts[pid]["files"] / 1024}
                              for pid, (c, r, p) in rows.items()],
                "rss_mb": sum(r for _, r, _ in rows.values()) / 1024,
                "pss_mb": sum(p for _, _, p in rows.values()) / 1024}

    def cpu(self) -> dict[int, float]:
        """CPU seconds (user + system) each process of ``serve`` has used so far."""
        return {pid: web.cpu_seconds(pid) for pid in self.pids()}

    def role(self, pid: int) -> str:
        """Which of serve's processes ``pid`` is: the worker is the child started with ``worker``, its
        delivery processes are its children, gunicorn's web workers the master's other children."""
        assert self.proc is not None
        if pid == self.proc.pid:
            return "gunicorn master"
        if pid in web.children_of(self.proc.pid):
            return "worker" if _is_worker(pid) else "web worker"
        return "delivery process"

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)


def _is_worker(pid: int) -> bool:
    """The federation worker (or a delivery process): forked by serve and named linkblog-worker, or started
    as ``linkblog worker``."""
    try:
        with open(f"/proc/{pid}/comm", "rb") as handle:
            if handle.read().strip() == b"linkblog-worker":
                return True
    except OSError:
        pass
    return _cmdline(pid).rstrip().endswith(b" worker")


def _cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ")
    except OSError:
        return b""


def make_token(engine) -> str:  # noqa: ANN001
    from linkblog.tokens import create_token

    with engine.begin() as conn:
        return create_token(conn, f"bench-{int(time.time() * 1000)}")


def latest_activity_uri(engine) -> str:  # noqa: ANN001
    from sqlalchemy import select

    from linkblog.models import OutboxActivity

    O = OutboxActivity.__table__
    with engine.connect() as conn:
        return conn.execute(select(O.c.uri).where(O.c.type == "Create").order_by(O.c.id.desc()).limit(1)).scalar_one()


def home_idle(client: httpx.Client, interval: float) -> list[float]:
    """The home page's times before the fan-out, asked at the pace the ``Watcher`` asks during it (so both p50s
    include the same wake-up from idle), 40 requests; or 200 back to back with ``interval`` 0."""
    if not interval:
        return web.sequential(client, f"http://{HOST}:{PORT}/", 200, Counter())
    times = []
    for _ in range(40):
        time.sleep(interval)
        started = time.perf_counter()
        client.get(f"http://{HOST}:{PORT}/")
        times.append((time.perf_counter() - started) * 1000)
    return times


class Watcher(threading.Thread):
    """While the fan-out runs: the home page every ``interval`` seconds (a busy site's readers, 50 a second by
    default; 0 sends them one after another, which keeps a web worker and this script each near a full core
    busy and so takes that CPU from the deliveries on a 2-core machine), and an unsigned inbox POST every
    200 ms (it must be refused promptly, with a 4xx: the inbox still answers)."""

    def __init__(self, interval: float) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.stop = threading.Event()
        self.home_ms: list[float] = []
        self.inbox: dict[str, int] = {}
        self.inbox_ms: list[float] = []

    def run(self) -> None:
        next_inbox = 0.0
        with httpx.Client(timeout=10, trust_env=False) as client:
            while not self.stop.wait(self.interval):
                started = time.perf_counter()
                client.get(f"http://{HOST}:{PORT}/")
                self.home_ms.append((time.perf_counter() - started) * 1000)
                if time.monotonic() >= next_inbox:
                    next_inbox = time.monotonic() + 0.2
                    started = time.perf_counter()
                    answer = client.post(f"http://{HOST}:{PORT}/inbox", content=b'{"type":"Like"}',
                                         headers={"Content-Type": "application/activity+json"})
                    self.inbox_ms.append((time.perf_counter() - started) * 1000)
                    self.inbox[str(answer.status_code)] = self.inbox.get(str(answer.status_code), 0) + 1


def fan_out(args: argparse.Namespace, shape: str) -> dict:
    """One instance, one shape of followers, one public bookmark; returns the figures."""
    directory = args.dir / shape
    config_file = fed.make_instance(directory, PORT)
    with config_file.open("a", encoding="utf-8") as handle:  # the port of base_url (serve's default is 8000)
        handle.write(f"\n[server]\nport = {PORT}\n")
    config, engine = fed.load(config_file)
    if shape == "distinct":
        hosts = receiver.addresses(args.followers)
        fed.add_followers(engine, hosts, RECEIVER_PORT)
        expected = args.followers
    else:
        hosts = receiver.addresses(args.hosts)
        add_shared_followers(engine, args.shared_followers, hosts, RECEIVER_PORT)
        expected = len(hosts)
    private_pem, public_pem = fed.owner_key(engine)
    token = make_token(engine)
    receivers = receiver.Receivers(hosts, RECEIVER_PORT, public_pem, f"http://{HOST}:{PORT}/actor#main-key",
                                   processes=args.receiver_processes)
    server = Serve(config_file, directory / "serve.log")
    result: dict = {"shape": shape, "expected": expected}
    try:
        receivers.start()
        for pid in receivers.pids:  # the followers' servers stand for other machines (see --peer-niceness)
            os.setpriority(os.PRIO_PROCESS, pid, args.peer_niceness)
        server.start()
        with httpx.Client(timeout=10, trust_env=False) as client:
            web.sequential(client, f"http://{HOST}:{PORT}/", 20, Counter())
            result["others_before"] = web.wait_for_quiet(args.quiet_wait) if args.quiet_wait > 0 else None
            idle = home_idle(client, args.home_interval)
            result["home_idle_p50_ms"] = web.percentile(idle, 0.5)
            watcher = Watcher(args.home_interval)
            watcher.start()
            cpu0 = server.cpu()
            t0 = time.time()
            answer = client.post(f"http://{HOST}:{PORT}/api/bookmarks", headers={"Authorization": f"Bearer {token}"},
                                 json={"url": f"https://bench.example/fanout/{shape}/{int(t0)}",
                                       "title": f"Fan-out benchmark ({shape})", "tags": ["bench"],
                                       "visibility": "public"})
            result["api_ms"] = (time.time() - t0) * 1000
            if answer.status_code != 201:
                raise RuntimeError(f"POST /api/bookmarks answered {answer.status_code}: {answer.text[:300]}")
        activity = latest_activity_uri(engine)
        deadline = time.monotonic() + args.timeout
        seen = receivers.activity(activity)
        while seen["verified"] + seen["failed"] < expected and time.monotonic() < deadline:
            time.sleep(0.05)
            seen = receivers.activity(activity)
        cpu = {pid: seconds - cpu0.get(pid, 0.0) for pid, seconds in server.cpu().items()}
        watcher.stop.set()
        watcher.join(15)
        result["receiver"] = seen
        roles = {pid: server.role(pid) for pid in cpu}
        workers = [pid for pid in cpu if roles[pid] in ("worker", "delivery process")]
        result["cpu_s"] = {f"{roles[pid]} {pid}": round(seconds, 3) for pid, seconds in cpu.items()}
        result["worker_cpu_ms_per_delivery"] = (sum(cpu[pid] for pid in workers) * 1000 / seen["verified"]
                                                if seen["verified"] else None)
        last = seen["last"]
        result["seconds"] = (last - t0) if last else None
        result["rate"] = seen["verified"] / result["seconds"] if result["seconds"] else None
        result["first_s"] = (seen["first"] - t0) if seen["first"] else None
        result["home_during_p50_ms"] = web.percentile(watcher.home_ms, 0.5) if watcher.home_ms else None
        result["home_requests_during"], result["home_interval"] = len(watcher.home_ms), args.home_interval
        result["inbox_during"] = {"statuses": watcher.inbox,
                                  "p50_ms": web.percentile(watcher.inbox_ms, 0.5) if watcher.inbox_ms else None}
        result["memory_after_fanout"] = server.memory()
        result["inbox_burst"] = inbox_burst(args, config, engine)
        result["memory"] = server.memory()
    finally:
        server.stop()
        receivers.stop()
        engine.dispose()
    return result


def inbox_burst(args: argparse.Namespace, config, engine) -> dict:  # noqa: ANN001
    """Signed Likes from ``--actors`` actors (each key fetched once), ``--burst`` of them on 16 connections."""
    actors = fed.make_actors(args.actors, ACTOR_PORT)
    object_id = fed.public_bookmark(engine, config)
    warm = fed.presign(actors, object_id, len(actors), PORT)
    timed = fed.presign(actors, object_id, args.burst, PORT, start=len(actors))
    servers = receiver.ActorServers([a["host"] for a in actors], ACTOR_PORT, {a["host"]: a["document"] for a in actors})
    try:
        servers.start()
        asyncio.run(fed.load_generator(PORT, warm, 1, 60))
        load = asyncio.run(fed.load_generator(PORT, timed, 16, 30))
    finally:
        servers.stop()
    accepted = load["statuses"].get("202", 0)
    return {"sent": load["sent"], "statuses": load["statuses"], "rate": accepted / load["seconds"]}


def report(result: dict) -> None:
    verdict = web.verdict
    seen = result["receiver"]
    print(f"\n=== {result['shape']}: {result['expected']:,} inbox deliveries expected")
    print(f"  last arrival {result['seconds'] and round(result['seconds'], 2)} s after the API call "
          f"(first {result['first_s'] and round(result['first_s'], 2)} s; the API call took {result['api_ms']:.0f} ms)")
    if result["shape"] == "distinct":
        print(f"  rate: {result['rate'] and round(result['rate'])} deliveries/s "
              f"{verdict(result['rate'], RATE_TARGET, at_most=False)} (stretch {RATE_STRETCH}/s)")
    else:
        print(f"  rate: {result['rate'] and round(result['rate'])} deliveries/s (no target; time to the last "
              "arrival and peak memory are the figures)")
    if result.get("worker_cpu_ms_per_delivery") is not None:
        print(f"  worker processes' CPU {result['worker_cpu_ms_per_delivery']:.2f} ms per delivery (API call to last "
              f"arrival; every process's CPU seconds: {result['cpu_s']})")
    print(f"  verified {seen['verified']:,}, failed {seen['failed']} {seen['reasons'] or ''}, twice {seen['twice']} "
          f"(targets: all verified, 0 failed, 0 twice)")
    slowdown = (result["home_during_p50_ms"] / result["home_idle_p50_ms"]
                if result["home_during_p50_ms"] and result["home_idle_p50_ms"] else None)
    print(f"  home p50 idle {result['home_idle_p50_ms']:.1f} ms, during {result['home_during_p50_ms'] or 0:.1f} ms "
          f"({result['home_requests_during']} requests, one every {result['home_interval']} s) = "
          f"{slowdown and round(slowdown, 2)}x {verdict(slowdown, HOME_SLOWDOWN_TARGET, at_most=True)}; unsigned inbox "
          f"POSTs during it {result['inbox_during']['statuses']} (a 4xx refusal expected), p50 "
          f"{result['inbox_during']['p50_ms'] or 0:.1f} ms")
    burst = result["inbox_burst"]
    print(f"  inbox burst after it: {burst['sent']:,} signed Likes, {burst['statuses']}, {burst['rate']:.0f}/s")
    for label, key in (("after the fan-out", "memory_after_fanout"), ("after the inbox burst", "memory")):
        memory = result[key]
        print(f"  memory of serve's {len(memory['processes'])} processes {label}: RSS {memory['rss_mb']:.1f} MB summed, "
              f"PSS {memory['pss_mb']:.1f} MB {verdict(memory['pss_mb'], MEMORY_TARGET_MB, at_most=True)} (PSS against "
              f"{MEMORY_TARGET_MB} MB)")
        for row in memory["processes"]:
            print(f"    pid {row['pid']}: RSS {row['rss_mb']:.1f} MB, PSS {row['pss_mb']:.1f} MB (anonymous "
                  f"{row['pss_anonymous_mb']:.1f}, files {row['pss_files_mb']:.1f})  {row['role']}")


def main(argv: list[str] | None = None) -> int:
    global PORT, RECEIVER_PORT, ACTOR_PORT
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--only", default="distinct,shared", help="distinct, shared or both (comma-separated)")
    parser.add_argument("--followers", type=int, default=1000, help="distinct: followers, one host each")
    parser.add_argument("--shared-followers", type=int, default=10000, help="shared: followers in all")
    parser.add_argument("--hosts", type=int, default=1000, help="shared: hosts they live on")
    parser.add_argument("--receiver-processes", type=int, default=2)
    parser.add_argument("--actors", type=int, default=50, help="inbox burst: signing actors")
    parser.add_argument("--burst", type=int, default=3000, help="inbox burst: signed Likes")
    parser.add_argument("--timeout", type=float, default=120)
    parser.add_argument("--quiet-wait", type=float, default=30)
    parser.add_argument("--peer-niceness", type=int, default=5,
                        help="CPU priority (nice) of the follower inboxes' processes, which stand for other machines: "
                             "by default the worker's, so the web is measured against our own work (0: the web's)")
    parser.add_argument("--home-interval", type=float, default=0.02,
                        help="seconds between two home page requests during the fan-out (0: back to back)")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--port", type=int, default=PORT, help="the instance's port (two runs at once need two)")
    parser.add_argument("--receiver-port", type=int, default=RECEIVER_PORT)
    parser.add_argument("--actor-port", type=int, default=ACTOR_PORT)
    args = parser.parse_args(argv)
    PORT, RECEIVER_PORT, ACTOR_PORT = args.port, args.receiver_port, args.actor_port
    args.dir = args.dir.resolve()
    args.dir.mkdir(parents=True, exist_ok=True)
    results = [fan_out(args, shape) for shape in args.only.split(",")]
    for result in results:
        report(result)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
