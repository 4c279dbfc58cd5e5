"""Web benchmark: the seeded instance under the production server, measured against the targets.

    .venv/bin/python bench/web.py                 # seed (or reuse) bench/out/sqlite, serve, measure, report
    .venv/bin/python bench/web.py --reseed        # rebuild the data first
    .venv/bin/python bench/web.py --database-url postgresql://postgres@127.0.0.1:5432/linkblog_bench

It starts the web server as an instance runs it, ``linkblog --config FILE serve --no-worker --host 127.0.0.1
--port PORT`` (gunicorn, the app preloaded in the master, 2 ``gthread`` workers with 4 threads, access log
into the log file); ``--server sync`` starts ``gunicorn -w 2 -k sync 'linkblog.wsgi:app'`` instead (no
preloading, access log off), as figures before issue 13's memory work were taken. It warms every URL up,
then per URL measures latency over one keep-alive client (sequential requests) and throughput with
``wrk -t2 -c16 -d10s``, and finally the memory of the server: PSS summed over the master and its workers
(shared pages counted once; the target is judged on it) and RSS summed (shared pages counted in each).
Only 127.0.0.1 is ever contacted; every phase is bounded; the server is always stopped. It reports
and exits 0 whether or not the targets are met (1 only when it could not run at all).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from urllib.parse import quote

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import seed  # noqa: E402

ROOT = seed.ROOT
HOST = "127.0.0.1"


def targets_for(info: dict) -> list[dict]:
    """name, path, p50 target (ms), throughput target (req/s) and what a real page must contain."""
    return [
        {"name": "home", "path": "/", "p50": 8, "rps": 500, "expect": "h-entry"},
        {"name": "tag", "path": f"/tags/{info['tag']}", "p50": 25, "rps": None, "expect": "h-entry"},
        {"name": "permalink", "path": f"/bookmarks/{info['permalink_id']}", "p50": 8, "rps": 500,
         "expect": "h-entry"},
        {"name": "search", "path": f"/search?q={quote(info['search_word'])}", "p50": 25, "rps": None,
         "expect": "h-entry"},
        {"name": "atom", "path": "/feeds/all.atom", "p50": 30, "rps": None, "expect": "<entry"},
    ]


RSS_TARGET_MB = 150


# --- the server -----------------------------------------------------------------------------------------

def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn does: TIME_WAIT is fine
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def children_of(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                stat = handle.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            found.append(int(entry))
    return found


def rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def pss_kb(pid: int) -> int:
    """Proportional set size: shared pages (libpython, .so files) split between the processes using them."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def pss_parts_kb(pid: int) -> dict[str, int]:
    """PSS split in two: anonymous memory (the heap: Python objects, malloc arenas, thread stacks), which a
    process dirties on its own after a fork, and file-backed pages (libraries, shared with its siblings)."""
    parts = {"anonymous": 0, "files": 0}
    anonymous = True
    try:
        with open(f"/proc/{pid}/smaps") as handle:
            for line in handle:
                if not line[0].isupper():  # a mapping's header: address range, flags, offset, device, inode, path
                    fields = line.split(None, 5)
                    path = fields[5].strip() if len(fields) > 5 else ""
                    anonymous = not path.startswith("/") or fields[4] == "0"
                elif line.startswith("Pss:"):
                    parts["anonymous" if anonymous else "files"] += int(line.split()[1])
    except OSError:
        pass
    return parts


CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of one process."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def machine_busy_seconds() -> float:
    """CPU seconds every process on the machine has used (all cores), from /proc/stat."""
    with open("/proc/stat") as handle:
        values = [int(v) for v in handle.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (values + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def database_pids(database_url: str | None) -> list[int]:
    """PostgreSQL backends serving the benchmark's database (their title names it), so their CPU is
    counted as the database's rather than as other processes'."""
    if not database_url:
        return []
    name = database_url.rsplit("/", 1)[1]
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    title = handle.read().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if title.startswith("postgres: ") and f" {name} " in title:
                found.append(int(entry))
    return found


class CpuMeter:
    """Who used the CPUs during a phase: the server, the database's backends (PostgreSQL), this script
    plus wrk, and everybody else."""

    def __init__(self, server_pids: list[int], database_url: str | None = None):
        self.pids = server_pids
        self.database_url = database_url

    def __enter__(self) -> "CpuMeter":
        self.t0 = time.perf_counter()
        self.db_pids = database_pids(self.database_url)
        self.server0 = sum(cpu_seconds(p) for p in self.pids)
        self.db0 = sum(cpu_seconds(p) for p in self.db_pids)
        self.busy0 = machine_busy_seconds()
        self.self0 = sum(os.times()[:4])  # this process and its reaped children (wrk)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.wall = time.perf_counter() - self.t0
        self.server = sum(cpu_seconds(p) for p in self.pids) - self.server0
        self.database = sum(cpu_seconds(p) for p in self.db_pids) - self.db0
        self.client = sum(os.times()[:4]) - self.self0
        self.others = max(0.0, machine_busy_seconds() - self.busy0 - self.server - self.database - self.client)

    def summary(self, requests: int) -> dict:
        return {"server_cpu_ms_per_request": self.server * 1000 / requests if requests else None,
                "database_cpu_ms_per_request": self.database * 1000 / requests if requests else None,
                "server_cpu_share": self.server / self.wall, "client_cpu_share": self.client / self.wall,
                "other_processes_cpu_share": self.others / self.wall, "seconds": self.wall}


def wait_for_quiet(max_seconds: float, threshold: float = 0.25) -> float:
    """Wait (at most ``max_seconds``) for a second in which other processes use under ``threshold`` of a
    CPU: the machine is shared, and a test suite running beside the benchmark inflates every figure.
    Returns the share of a CPU others used in the last second sampled."""
    deadline = time.monotonic() + max_seconds
    while True:
        busy0, self0 = machine_busy_seconds(), sum(os.times()[:4])
        time.sleep(1.0)
        others = machine_busy_seconds() - busy0 - (sum(os.times()[:4]) - self0)
        if others < threshold or time.monotonic() >= deadline:
            return max(0.0, others)


class Server:
    output_to_log = False  # gunicorn's error log goes to ``log`` by its own option

    def __init__(self, config: str, port: int, workers: int, log: Path, worker_args: list[str] | None = None):
        """``worker_args`` replace ``-k sync`` (e.g. ``-k gthread --threads 4 --access-logfile -``, as serve runs)."""
        self.config, self.port, self.workers, self.log = config, port, workers, log
        self.worker_args = worker_args or ["-k", "sync"]
        self.proc: subprocess.Popen | None = None
        self.worker_pids: list[int] = []

    def command(self) -> tuple[list[str], dict[str, str]]:
        """The command line and its environment; the error log goes to ``self.log``."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LINKBLOG_", "GUNICORN_"))}
        env["LINKBLOG_CONFIG"] = self.config
        cmd = [str(seed.VENV_BIN / "gunicorn"), "-w", str(self.workers), *self.worker_args,
               "-b", f"{HOST}:{self.port}", "--error-logfile", str(self.log), "--log-level", "warning",
               "linkblog.wsgi:app"]  # no --access-logfile: gunicorn's access log stays off
        print("$ LINKBLOG_CONFIG=" + self.config + " " + " ".join(cmd[:-1]) + " 'linkblog.wsgi:app'")
        return cmd, env

    def start(self, timeout: float = 60) -> None:
        cmd, env = self.command()
        with self.log.open("ab") as log:
            out = log if self.output_to_log else None
            self.proc = subprocess.Popen(cmd, env=env, cwd=str(ROOT), stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=out and subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with {self.proc.returncode}; see {self.log}")
            self.worker_pids = children_of(self.proc.pid)
            if len(self.worker_pids) >= self.workers:
                try:
                    httpx.get(f"http://{HOST}:{self.port}/", timeout=5)
                    return
                except httpx.HTTPError:
                    pass
            time.sleep(0.2)
        raise RuntimeError(f"the server did not answer within {timeout:.0f} s; see {self.log}")

    def rss(self) -> dict[str, int]:
        assert self.proc is not None
        pids = [self.proc.pid, *children_of(self.proc.pid)]
        return {str(pid): rss_kb(pid) for pid in pids}

    def pss(self) -> dict[str, int]:
        assert self.proc is not None
        return {str(pid): pss_kb(pid) for pid in [self.proc.pid, *children_of(self.proc.pid)]}

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        workers = children_of(self.proc.pid) or self.worker_pids
        self.proc.send_signal(signal.SIGTERM)  # graceful: the master stops its workers
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
        for pid in workers:  # only our own workers, by id, if any outlived the master
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


class Serve(Server):
    """The web half of ``linkblog serve`` exactly as it runs in production (``serve --no-worker``: gunicorn
    with the app preloaded in the master, ``gthread`` workers with 4 threads, the access log on stdout, here
    into the log file), so its memory is what an instance's web server really costs."""

    output_to_log = True  # serve's access log goes to stdout, its errors to stderr

    def command(self) -> tuple[list[str], dict[str, str]]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LINKBLOG_", "GUNICORN_"))}
        cmd = [str(seed.VENV_BIN / "linkblog"), "--config", self.config, "serve", "--no-worker",
               "--host", HOST, "--port", str(self.port), "--workers", str(self.workers)]
        print("$ " + " ".join(["linkblog", *cmd[1:]]))
        return cmd, env


# --- measuring ------------------------------------------------------------------------------------------

def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    low = int(k)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


def sequential(client: httpx.Client, url: str, count: int, statuses: Counter) -> list[float]:
    times = []
    for _ in range(count):
        start = time.perf_counter()
        try:
            response = client.get(url)
            response.read()
            statuses[str(response.status_code)] += 1
        except httpx.HTTPError as exc:
            statuses[type(exc).__name__] += 1
            continue
        times.append((time.perf_counter() - start) * 1000)
    return times


WRK_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def run_wrk(url: str, threads: int, connections: int, duration: int) -> dict:
    wrk = shutil.which("wrk")
    if wrk is None:
        return {"error": "wrk is not installed (apt-get install -y wrk)"}
    cmd = [wrk, f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "5s", url]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 30).stdout
    except subprocess.TimeoutExpired:
        return {"error": "wrk did not finish in time"}
    result: dict = {"command": " ".join(cmd[1:])}
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    result["rps"] = float(match.group(1)) if match else None
    match = re.search(r"(\d+) requests in", out)
    result["requests"] = int(match.group(1)) if match else None
    match = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    result["non_2xx_3xx"] = int(match.group(1)) if match else 0
    match = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    result["socket_errors"] = dict(zip(("connect", "read", "write", "timeout"), map(int, match.groups()))) \
        if match else {}
    for pct in ("50", "99"):
        match = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)
        result[f"p{pct}_ms"] = float(match.group(1)) * WRK_UNITS[match.group(2)] if match else None
    if result["rps"] is None:
        result["error"] = "could not read wrk's output: " + out[-300:]
    return result


def verdict(value: float | None, target: float | None, at_most: bool) -> str:
    if target is None:
        return "(no target)"
    sign = "<=" if at_most else ">="
    if value is None or value != value:
        return f"(target {sign} {target:g}) NOT MEASURED"
    ok = value <= target if at_most else value >= target
    return f"(target {sign} {target:g}) {'OK' if ok else 'MISSED'}"


def profile(info: dict, urls: list[dict], requests: int, top: int) -> None:
    """In-process, no server: CPU per request through Flask's test client, every SQL statement with its
    time and query plan, and where the Python time goes (cProfile)."""
    import cProfile
    import io
    import pstats

    from sqlalchemy import event

    from linkblog import create_app
    from linkblog.config import load_config

    app = create_app(load_config(info["config"], environ={}))
    engine = app.extensions["linkblog"].engine
    statements: dict[str, list] = {}

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn, _cursor, _statement, _params, _context, _many):  # noqa: ANN001, ANN202
        conn.info["bench_t0"] = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def _after(conn, _cursor, statement, params, _context, _many):  # noqa: ANN001, ANN202
        entry = statements.setdefault(statement, [0, 0.0, params])
        entry[0] += 1
        entry[1] += time.perf_counter() - conn.info.pop("bench_t0", time.perf_counter())

    client = app.test_client()
    for u in urls:
        for _ in range(10):
            response = client.get(u["path"])
        statements.clear()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for _ in range(requests):
            client.get(u["path"])
        cpu_ms = (time.process_time() - cpu0) * 1000 / requests
        wall_ms = (time.perf_counter() - wall0) * 1000 / requests
        print(f"\n=== {u['name']} {u['path']}: status {response.status_code}, {len(response.data):,} bytes; "
              f"{cpu_ms:.2f} ms CPU / {wall_ms:.2f} ms wall per request in-process (target p50 {u['p50']} ms)")
        sql_ms = 0.0
        for statement, (count, seconds, params) in sorted(statements.items(), key=lambda kv: -kv[1][1]):
            per = seconds * 1000 / requests
            sql_ms += per
            print(f"  SQL {per:6.2f} ms x{count / requests:g}: {' '.join(statement.split())[:400]}  {params}")
            explain = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN ANALYZE "
            with engine.connect() as conn:
                for row in conn.exec_driver_sql(explain + statement, params):
                    print(f"        {row[-1]}")
        print(f"  SQL total {sql_ms:.2f} ms of {wall_ms:.2f} ms; the rest is Python (below)")
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(max(1, requests // 2)):
            client.get(u["path"])
        profiler.disable()
        for order in ("tottime", "cumulative"):
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out)
            stats.sort_stats(order).print_stats(top)
            lines = out.getvalue().splitlines()
            start = next((i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls")), 0)
            print(f"  cProfile by {order} ({max(1, requests // 2)} requests, profiler overhead included):")
            for line in lines[start:start + top + 1]:
                print("    " + line.replace(str(ROOT) + "/", "").replace(sys.prefix + "/lib/", ""))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", type=Path, default=None, help="instance folder (see bench/seed.py)")
    parser.add_argument("--port", type=int, default=seed.DEFAULT_PORT)
    parser.add_argument("--database-url", default=None, help="postgresql://user@127.0.0.1:5432/NEWDB")
    parser.add_argument("--reseed", action="store_true", help="rebuild the seeded data first")
    parser.add_argument("--workers", type=int, default=2, help="web worker processes")
    parser.add_argument("--server", choices=("serve", "sync"), default="serve",
                        help="serve: `linkblog serve --no-worker`, as an instance runs (preloaded app, gthread "
                             "workers, 4 threads; the default); sync: `gunicorn -k sync 'linkblog.wsgi:app'`, "
                             "without preloading, as earlier figures were taken")
    parser.add_argument("--requests", type=int, default=500, help="sequential requests per URL")
    parser.add_argument("--warmup", type=int, default=20, help="warm-up requests per URL")
    parser.add_argument("--duration", type=int, default=10, help="seconds of wrk per URL")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", default="", help="comma-separated names: home,tag,permalink,search,atom")
    parser.add_argument("--no-wrk", action="store_true", help="latency only")
    parser.add_argument("--also-search", default="", metavar="WORDS",
                        help="comma-separated extra search words, each measured as 'search:WORD' with the search "
                             "target (e.g. python, in 36%% of the seeded bookmarks; data, in 73%%)")
    parser.add_argument("--quiet-wait", type=float, default=30,
                        help="seconds to wait, before each URL, for other processes to leave the CPUs alone")
    parser.add_argument("--profile", action="store_true",
                        help="no server: profile each URL in-process (SQL, query plans, cProfile) and stop")
    parser.add_argument("--profile-top", type=int, default=15, help="functions shown per cProfile listing")
    parser.add_argument("--json", type=Path, default=None, help="write the results here too")
    args = parser.parse_args(argv)
    if not 1 <= args.duration <= 120 or not 1 <= args.requests <= 20_000 or not 1 <= args.connections <= 256:
        parser.error("keep --duration within 1-120 s, --requests within 1-20000, --connections within 1-256")

    directory = seed.default_dir(args.dir, args.database_url)
    info = seed.ensure_seeded(directory, args.port, args.database_url, args.reseed)
    urls = targets_for(info)
    if args.only:
        wanted = set(args.only.split(","))
        urls = [u for u in urls if u["name"] in wanted]
    for word in filter(None, args.also_search.split(",")):
        urls.append({"name": f"search:{word}", "path": f"/search?q={quote(word)}", "p50": 25, "rps": None,
                     "expect": "h-entry"})
    if args.profile:
        profile(info, urls, min(args.requests, 200), args.profile_top)
        return 0
    if not port_is_free(args.port):
        print(f"port {args.port} on {HOST} is in use; pass --port (the seeded base_url keeps its own port)")
        return 1
    backend = "postgresql" if args.database_url else "sqlite"
    kind = Serve if args.server == "serve" else Server
    server = kind(info["config"], args.port, args.workers, directory / f"{args.server}.log")
    results: dict = {"backend": backend, "seed": {k: info[k] for k in ("tag", "tag_public_count", "permalink_id",
                                                                       "search_word")}, "urls": {}}

    def on_signal(signum, _frame):  # noqa: ANN001, ANN202
        server.stop()
        raise SystemExit(130)

    signal.signal(signal.SIGTERM, on_signal)
    try:
        server.start()
        base = f"http://{HOST}:{args.port}"
        with httpx.Client(timeout=10, headers={"User-Agent": "linkblog-bench"}) as client:
            for u in urls:
                url = base + u["path"]
                statuses: Counter = Counter()
                u["others_before"] = wait_for_quiet(args.quiet_wait) if args.quiet_wait > 0 else None
                probe = client.get(url)
                body = probe.text
                u["status"] = probe.status_code
                u["bytes"] = len(probe.content)
                u["content_type"] = probe.headers.get("content-type", "")
                u["looks_real"] = probe.status_code == 200 and u["expect"] in body
                sequential(client, url, args.warmup, Counter())
                pids = [server.proc.pid, *children_of(server.proc.pid)]
                with CpuMeter(pids, args.database_url) as meter:
                    times = sequential(client, url, args.requests, statuses)
                u["cpu"] = meter.summary(len(times))
                u["p50_ms"] = percentile(times, 0.5)
                u["p95_ms"] = percentile(times, 0.95)
                u["mean_ms"] = statistics.fmean(times) if times else float("nan")
                u["max_ms"] = max(times) if times else float("nan")
                u["statuses"] = dict(statuses)
                note = "" if u["looks_real"] else "  <- not the real page yet (placeholder or error)"
                print(f"{u['name']:<10} {u['path']}  status {u['status']}, {u['bytes']:,} bytes, "
                      f"p50 {u['p50_ms']:.1f} ms, server CPU {u['cpu']['server_cpu_ms_per_request']:.1f} ms/request"
                      + (f" + database {u['cpu']['database_cpu_ms_per_request']:.1f}" if args.database_url else "")
                      + ", "
                      f"other processes {u['cpu']['other_processes_cpu_share'] * 100:.0f}% of a CPU{note}", flush=True)
                if not args.no_wrk:
                    with CpuMeter(pids, args.database_url) as meter:
                        u["wrk"] = run_wrk(url, args.threads, args.connections, args.duration)
                    u["wrk"]["cpu"] = meter.summary(u["wrk"].get("requests") or 0)
                    print(f"{'':<10} wrk: {u['wrk'].get('rps')} req/s, non-2xx/3xx {u['wrk'].get('non_2xx_3xx')}, "
                          f"server {u['wrk']['cpu']['server_cpu_share'] * 100:.0f}% / wrk "
                          f"{u['wrk']['cpu']['client_cpu_share'] * 100:.0f}% / other processes "
                          f"{u['wrk']['cpu']['other_processes_cpu_share'] * 100:.0f}% of a CPU", flush=True)
        rss = server.rss()
        pss = server.pss()
        results["rss_kb"] = rss
        results["pss_kb"] = pss
    except (RuntimeError, httpx.HTTPError, OSError) as exc:
        print(f"benchmark could not run: {exc}")
        server.stop()
        return 1
    finally:
        server.stop()

    total_mb = sum(rss.values()) / 1024
    server_label = (f"linkblog serve --no-worker --workers {args.workers}" if args.server == "serve"
                    else f"gunicorn -w {args.workers} -k sync")
    print()
    print(f"== linkblog web benchmark ({backend}, {seed.SEED_VERSION=}, {info['bookmarks']:,} bookmarks, "
          f"{info['weeknotes']} weeknotes; {server_label}; {os.cpu_count()} CPUs) ==")
    print(f"   tag page: #{info['tag']} (rank {info['tag_rank']}, {info['tag_public_count']} public links); "
          f"permalink: bookmark {info['permalink_id']}; search: q={info['search_word']} "
          f"({info['search_matches_all_visibilities']:,} matching bookmarks, all visibilities)")
    for u in urls:
        name = u["name"]
        print(f"{name} p50 {u['p50_ms']:.1f} ms {verdict(u['p50_ms'], u['p50'], True)}")
        print(f"{name} p95 {u['p95_ms']:.1f} ms (no target)")
        db_cpu = f" + PostgreSQL {u['cpu']['database_cpu_ms_per_request']:.1f} ms" if args.database_url else ""
        print(f"{name} server CPU {u['cpu']['server_cpu_ms_per_request']:.1f} ms{db_cpu} per request (no target)")
        if "wrk" in u:
            rps = u["wrk"].get("rps")
            shown = f"{rps:.0f}" if rps is not None else "?"
            print(f"{name} throughput {shown} req/s with {args.connections} connections "
                  f"{verdict(rps, u['rps'], False)}")
    pss_mb = sum(pss.values()) / 1024
    print(f"web server memory ({server_label}; master + {len(rss) - 1} workers), after all runs:")
    print(f"  PSS {pss_mb:.1f} MB summed (per process: {', '.join(f'{v / 1024:.1f}' for v in pss.values())} MB) "
          f"{verdict(pss_mb, RSS_TARGET_MB, True)}: pages shared between the processes counted once, what the "
          f"server costs the machine; the target is judged on this")
    print(f"  RSS {total_mb:.1f} MB summed (per process: {', '.join(f'{v / 1024:.1f}' for v in rss.values())} MB) "
          f"{verdict(total_mb, RSS_TARGET_MB, True)}: shared pages counted in every process (a preloaded master and "
          f"its forks count the app's pages three times); for comparison with figures taken this way")
    print("status codes:")
    problems = []
    for u in urls:
        wrk = u.get("wrk", {})
        line = ", ".join(f"{code} x{n}" for code, n in sorted(u["statuses"].items()))
        extra = ""
        if wrk:
            errors = {k: v for k, v in wrk.get("socket_errors", {}).items() if v}
            extra = f"; wrk: {wrk.get('requests')} requests, non-2xx/3xx {wrk.get('non_2xx_3xx')}" + \
                    (f", socket errors {errors}" if errors else "") + (f", {wrk['error']}" if "error" in wrk else "")
            if wrk.get("non_2xx_3xx"):
                problems.append(f"{u['name']}: wrk saw {wrk['non_2xx_3xx']} non-2xx/3xx responses")
        print(f"  {u['name']:<10} {line}{extra}")
        if set(u["statuses"]) != {"200"}:
            problems.append(f"{u['name']}: {line}")
        if not u["looks_real"]:
            problems.append(f"{u['name']}: {u['path']} answered {u['status']} ({u['content_type']}) without "
                            f"{u['expect']!r}: the page is not there yet, so its figures measure an error page")
    noisy = [u["name"] for u in urls if u["cpu"]["other_processes_cpu_share"] > 0.25
             or u.get("wrk", {}).get("cpu", {}).get("other_processes_cpu_share", 0) > 0.25]
    if noisy:
        problems.append(f"other processes used more than a quarter of a CPU while measuring {', '.join(noisy)}: "
                        f"those timings are inflated (server CPU per request is the steadier figure)")
    if problems:
        print("PROBLEMS:")
        for p in dict.fromkeys(problems):
            print("  - " + p)
    results["urls"] = {u["name"]: u for u in urls}
    results["rss_mb"] = round(total_mb, 1)
    results["pss_mb"] = round(pss_mb, 1)
    results["server"] = server_label
    out = args.json or (ROOT / "bench" / "out" / f"web-{backend}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"(results also in {out})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
