"""Federation benchmark: signed delivery fan-out to 1,000 inboxes, and signed inbox POST throughput.

    .venv/bin/python bench/federation.py                       # both halves, report against the targets
    .venv/bin/python bench/federation.py --only delivery --processes 1,2,4
    .venv/bin/python bench/federation.py --only inbox --duration 10
    .venv/bin/python bench/federation.py --profile             # in-process: where the time goes

Delivery: a fresh instance from the real CLI (``linkblog init --dir bench/out/fed``, then
``[federation] allow_private_addresses = true`` appended to its config.toml), 1,000 remote actors with
accepted follows whose inboxes are 1,000 distinct loopback addresses (127.0.1.1 ... 127.0.4.250, one port),
served by ``bench/receiver.py``, which verifies every request's draft-cavage signature against the owner's
public key read from the instance database. One Create is queued through the real code path
(``bookmarks.create(..., config=config)``: 1,000 delivery rows) and ``linkblog worker`` processes (1, 2, 4)
run until every row is done; the time counts from their start to the last row done.

Inbox: the app under ``gunicorn -w 2 -k sync``, 50 remote actors (real RSA keys) served from loopback
addresses 127.0.5.x, and a load generator on 16 connections sending pre-signed Likes of a public bookmark
to ``/inbox`` and ``/actor/inbox`` for a bounded time; it counts 202s (verified and queued). The load
generator is wrk replaying the pre-signed requests (``bench/replay.py``) when wrk is installed, else (or with
``--load-generator python``) an asyncio client in this process, which takes more of the shared CPUs.

Only 127.0.0.0/8 is ever contacted; every phase is bounded; every process started is stopped. It reports
and exits 0 whether or not the targets are met (1 only when it could not run at all).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import receiver  # noqa: E402
import replay  # noqa: E402
import seed  # noqa: E402
import web  # noqa: E402

ROOT = seed.ROOT
HOST = "127.0.0.1"
DEFAULT_DIR = ROOT / "bench" / "out" / "fed"
DEFAULT_PORT = 8766          # the instance's base_url; gunicorn listens here in the inbox half
RECEIVER_PORT = 8799         # every fake follower inbox, on its own 127.0.x.y address
ACTOR_PORT = 8798            # the inbox half's remote actors, on 127.0.5.x

DELIVERY_RATE_TARGET = 400   # signed deliveries per second
DELIVERY_SECONDS_TARGET = 2.5
WORKER_RSS_TARGET_MB = 100
INBOX_RATE_TARGET = 1000     # verified-and-queued inbox POSTs per second (16 connections, keys cached)

verdict = web.verdict


# --- the instance ------------------------------------------------------------------------------------------

def clean_env() -> dict[str, str]:
    """No settings from the caller's environment; no link checks or page copies (the bench's bookmarks point
    nowhere real)."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith(("LINKBLOG_", "GUNICORN_"))},
            "LINKBLOG_LINKS_CHECK": "false", "LINKBLOG_COPIES_MODE": "off"}


def make_instance(directory: Path, port: int) -> Path:
    """A new instance from the real CLI, with private addresses allowed for the loopback peers."""
    directory = directory.resolve()
    if directory.exists():
        shutil.rmtree(directory)
    cmd = [str(seed.VENV_BIN / "linkblog"), "init", "--dir", str(directory), "--base-url", f"http://{HOST}:{port}"]
    print("$ linkblog " + " ".join(cmd[1:]))
    result = subprocess.run(cmd, env=clean_env(), capture_output=True, text=True, cwd=str(ROOT))
    if result.returncode != 0:
        raise RuntimeError(f"linkblog init failed:\n{result.stdout}{result.stderr}")
    config_file = directory / "config.toml"
    with config_file.open("a", encoding="utf-8") as handle:
        handle.write('\n[federation]\nallow_private_addresses = true\n\n[logging]\nlevel = "WARNING"\n')
    return config_file


def load(config_file: Path):  # noqa: ANN201
    from linkblog.config import load_config
    from linkblog.db import make_engine

    config = load_config(str(config_file), environ={})
    return config, make_engine(config.database_url)


def owner_key(engine) -> tuple[str, str]:  # noqa: ANN001
    from sqlalchemy import select

    from linkblog.models import Owner

    with engine.connect() as conn:
        row = conn.execute(select(Owner.private_key_pem, Owner.public_key_pem).where(Owner.id == 1)).one()
    return row.private_key_pem, row.public_key_pem


def add_followers(engine, hosts: list[str], port: int) -> None:  # noqa: ANN001
    """One remote actor per host, each with an accepted follow and its own (non-shared) inbox."""
    from sqlalchemy import insert, select

    from linkblog.db import utcnow
    from linkblog.models import Follower, RemoteActor

    A, F = RemoteActor.__table__, Follower.__table__
    now = utcnow()
    actors = [{"uri": f"http://{h}:{port}/users/follower", "inbox": f"http://{h}:{port}/inbox",
               "shared_inbox": None, "handle": f"follower@{h}:{port}", "display_name": f"Follower {i}",
               "key_id": f"http://{h}:{port}/users/follower#main-key", "public_key_pem": None,
               "fetched_at": now, "created_at": now} for i, h in enumerate(hosts, start=1)]
    with engine.begin() as conn:
        conn.execute(insert(A), actors)
        ids = conn.execute(select(A.c.id, A.c.uri).where(A.c.uri.in_([a["uri"] for a in actors]))).all()
        conn.execute(insert(F), [{"actor_id": actor_id, "follow_uri": uri.replace("/users/follower", "/follows/1"),
                                  "state": "accepted", "created_at": now} for actor_id, uri in ids])


def queue_create(engine, config, label: str) -> dict:  # noqa: ANN001
    """Save a public bookmark through the real code path: one Create, one delivery row per follower inbox."""
    from sqlalchemy import func, select

    from linkblog import bookmarks
    from linkblog.models import Delivery, OutboxActivity

    D, O = Delivery.__table__, OutboxActivity.__table__
    item = bookmarks.BookmarkInput(
        url=f"https://bench.example/federation/{label}", title=f"Federation benchmark: {label}",
        annotation="Delivered to **every follower**, signed, by the real worker.", quote="",
        tags=["bench", "federation"], visibility="public")
    started = time.perf_counter()
    with engine.begin() as conn:
        bookmark_id = bookmarks.create(conn, item, config=config)
        activity = conn.execute(select(O.c.id, O.c.uri, O.c.type).order_by(O.c.id.desc()).limit(1)).one()
        rows = conn.execute(select(func.count()).select_from(D).where(D.c.activity_id == activity.id)).scalar_one()
    return {"bookmark_id": bookmark_id, "activity_id": activity.id, "activity_uri": activity.uri,
            "type": activity.type, "rows": rows, "queue_ms": (time.perf_counter() - started) * 1000}


def delivery_states(engine, activity_id: int) -> Counter:  # noqa: ANN001
    from sqlalchemy import func, select

    from linkblog.models import Delivery

    D = Delivery.__table__
    with engine.connect() as conn:
        return Counter(dict(conn.execute(select(D.c.state, func.count()).where(D.c.activity_id == activity_id)
                                         .group_by(D.c.state)).all()))


def last_done_epoch(engine, activity_id: int) -> float | None:  # noqa: ANN001
    """When the last row of the activity was recorded done (``updated_at`` is naive UTC)."""
    from sqlalchemy import func, select

    from linkblog.models import Delivery

    D = Delivery.__table__
    with engine.connect() as conn:
        moment = conn.execute(select(func.max(D.c.updated_at)).where(D.c.activity_id == activity_id,
                                                                      D.c.state == "done")).scalar()
    return None if moment is None else moment.replace(tzinfo=timezone.utc).timestamp()


def delivery_errors(engine, activity_id: int) -> Counter:  # noqa: ANN001
    from sqlalchemy import func, select

    from linkblog.models import Delivery

    D = Delivery.__table__
    with engine.connect() as conn:
        return Counter({f"{state} {status} {error[:120]}": n for state, status, error, n in conn.execute(
            select(D.c.state, D.c.last_status, D.c.last_error, func.count())
            .where(D.c.activity_id == activity_id, D.c.state != "done")
            .group_by(D.c.state, D.c.last_status, D.c.last_error)).all()})


# --- process figures ---------------------------------------------------------------------------------------

def status_kb(pid: int, field: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


# --- the delivery half -------------------------------------------------------------------------------------

def _die_with_parent() -> None:
    """In a started worker: get SIGTERM if this script dies, so no worker outlives the benchmark."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def run_workers(engine, config_file: Path, job: dict, processes: int, timeout: float, log: Path,  # noqa: ANN001
                poll: float = 0.05, cmd: list[str] | None = None) -> dict:
    """Start ``processes`` × ``linkblog worker``, wait until the activity's rows are all settled (or the
    time limit), record peak RSS and CPU of each, then stop them (SIGTERM, each by its own pid)."""
    env = clean_env()
    env["LINKBLOG_CONFIG"] = str(config_file)
    cmd = cmd or [str(seed.VENV_BIN / "linkblog"), "worker"]
    procs: list[subprocess.Popen] = []
    hwm: dict[int, int] = {}
    cpu: dict[int, float] = {}
    states: Counter = Counter()
    exited: dict[int, int] = {}
    with log.open("a") as log_handle:
        log_handle.write(f"\n--- {processes} worker(s), activity {job['activity_id']} ---\n")
        log_handle.flush()
        wall0 = time.time()
        t0 = time.perf_counter()
        try:
            for _ in range(processes):
                procs.append(subprocess.Popen(cmd, env=env, cwd=str(ROOT), stdin=subprocess.DEVNULL,
                                              stdout=log_handle, stderr=subprocess.STDOUT,
                                              preexec_fn=_die_with_parent))
            while True:
                for proc in procs:
                    hwm[proc.pid] = max(hwm.get(proc.pid, 0), status_kb(proc.pid, "VmHWM"))
                    cpu[proc.pid] = web.cpu_seconds(proc.pid) or cpu.get(proc.pid, 0.0)
                    if proc.poll() is not None:
                        exited[proc.pid] = proc.returncode
                states = delivery_states(engine, job["activity_id"])
                if states.get("queued", 0) == 0 or exited or time.perf_counter() - t0 > timeout:
                    break
                time.sleep(poll)
            detected = time.perf_counter() - t0
            for proc in procs:  # the peak, once more, just before stopping
                hwm[proc.pid] = max(hwm.get(proc.pid, 0), status_kb(proc.pid, "VmHWM"))
                cpu[proc.pid] = web.cpu_seconds(proc.pid) or cpu.get(proc.pid, 0.0)
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            for proc in procs:
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=5)
    last = last_done_epoch(engine, job["activity_id"])
    return {"processes": processes, "pids": [p.pid for p in procs], "wall0": wall0, "detected_s": detected,
            "last_done_s": (last - wall0) if last is not None else None, "states": dict(states),
            "hwm_kb": {str(k): v for k, v in hwm.items()}, "cpu_s": {str(k): v for k, v in cpu.items()},
            "exited_early": {str(k): v for k, v in exited.items()}, "timed_out": states.get("queued", 0) > 0}


def delivery_phase(args: argparse.Namespace, config, engine, config_file: Path,  # noqa: ANN001
                   receivers: receiver.Receivers) -> list[dict]:
    results = []
    plan = [p for _ in range(args.repeat) for p in args.processes]
    for run, processes in enumerate(plan, start=1):
        others = web.wait_for_quiet(args.quiet_wait) if args.quiet_wait > 0 else None
        job = queue_create(engine, config, f"run{run}-{processes}p-{int(time.time())}")
        if job["rows"] != args.followers:
            print(f"  queued {job['rows']} delivery rows, expected {args.followers}")
        receiver_cpu0 = sum(web.cpu_seconds(pid) for pid in receivers.pids)
        busy0, self0 = web.machine_busy_seconds(), time.process_time()
        outcome = run_workers(engine, config_file, job, processes, args.timeout, args.dir / "worker.log")
        busy, own = web.machine_busy_seconds() - busy0, time.process_time() - self0
        receiver_cpu = sum(web.cpu_seconds(pid) for pid in receivers.pids) - receiver_cpu0
        seen = receivers.activity(job["activity_uri"])
        states = outcome["states"]
        done = states.get("done", 0)
        total_s = outcome["last_done_s"] if outcome["last_done_s"] is not None else outcome["detected_s"]
        first_s = (seen["first"] - outcome["wall0"]) if seen["first"] else None
        worker_cpu = sum(outcome["cpu_s"].values())
        result = {**job, **outcome, "receiver": seen, "done": done, "total_s": total_s,
                  "rate": done / total_s if total_s else None, "startup_s": first_s,
                  "delivering_s": (total_s - first_s) if first_s is not None else None,
                  "worker_cpu_ms_per_delivery": worker_cpu * 1000 / done if done else None,
                  "receiver_cpu_ms_per_request": receiver_cpu * 1000 / max(1, seen["verified"] + seen["failed"]),
                  "others_before": others, "bench_cpu_share": own / outcome["detected_s"],
                  "other_cpu_share": max(0.0, busy - worker_cpu - receiver_cpu - own) / outcome["detected_s"],
                  "errors": dict(delivery_errors(engine, job["activity_id"])) if done < job["rows"] else {}}
        hwm_mb = [v / 1024 for v in outcome["hwm_kb"].values()]
        result["hwm_mb"] = hwm_mb
        deliver_rate = (done / result["delivering_s"]) if result["delivering_s"] else None
        result["delivering_rate"] = deliver_rate
        print(f"  {processes} worker process(es): {done:,}/{job['rows']:,} done in {total_s:.2f} s "
              f"(start {first_s if first_s is None else round(first_s, 2)} s + delivering "
              f"{result['delivering_s'] and round(result['delivering_s'], 2)} s), receiver verified "
              f"{seen['verified']:,}, failed {seen['failed']}, twice {seen['twice']}; worker CPU "
              f"{result['worker_cpu_ms_per_delivery'] and round(result['worker_cpu_ms_per_delivery'], 2)} ms/delivery, "
              f"receiver {result['receiver_cpu_ms_per_request']:.2f} ms/request, peak RSS "
              f"{', '.join(f'{m:.1f}' for m in hwm_mb)} MB; this script (polling) "
              f"{result['bench_cpu_share'] * 100:.0f}% / other processes {result['other_cpu_share'] * 100:.0f}% "
              f"of a CPU", flush=True)
        results.append(result)
    return results


# --- the inbox half ----------------------------------------------------------------------------------------

def inbox_available(config) -> bool:  # noqa: ANN001
    """Whether this version of the app answers POST /inbox (the inbox arrives with its own change)."""
    try:
        from linkblog import create_app

        app = create_app(config)
    except Exception as exc:  # noqa: BLE001
        print(f"  cannot build the app: {exc}")
        return False
    adapter = app.url_map.bind("localhost")
    try:
        adapter.match("/inbox", method="POST")
        adapter.match("/actor/inbox", method="POST")
    except Exception:  # noqa: BLE001  (404 or 405: no inbox yet)
        return False
    return True


def make_actors(count: int, port: int) -> list[dict]:
    """``count`` remote actors, each on its own loopback host with a fresh RSA-2048 key pair."""
    from linkblog.federation.keys import generate_key_pair

    actors = []
    for host in [f"127.0.5.{i}" for i in range(1, count + 1)]:
        private_pem, public_pem = generate_key_pair()
        actor_id = f"http://{host}:{port}/users/bench"
        actors.append({"host": host, "id": actor_id, "key_id": actor_id + "#main-key", "private_pem": private_pem,
                       "document": {
                           "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
                           "id": actor_id, "type": "Person", "preferredUsername": "bench", "name": f"Bench {host}",
                           "inbox": actor_id + "/inbox", "outbox": actor_id + "/outbox",
                           "followers": actor_id + "/followers", "following": actor_id + "/following",
                           "endpoints": {"sharedInbox": f"http://{host}:{port}/inbox"},
                           "publicKey": {"id": actor_id + "#main-key", "owner": actor_id,
                                         "publicKeyPem": public_pem}}})
    return actors


_SIGNING_KEYS: dict = {}


def _signing_init(keys: list[tuple[str, str]]) -> None:
    from linkblog.federation.signatures import load_private_key

    load_private_key.cache_clear()
    for key_id, pem in keys:
        _SIGNING_KEYS[key_id] = load_private_key.__wrapped__(pem)


def _sign_like(job: tuple[str, str, str, int, str, str]) -> bytes:
    """One complete HTTP/1.1 request: a Like of ``object_id`` by the actor, signed draft-cavage now."""
    from linkblog.federation.signatures import sign_headers

    actor_id, key_id, object_id, number, path, authority = job
    body = json.dumps({"@context": "https://www.w3.org/ns/activitystreams", "type": "Like",
                       "id": f"{actor_id}/likes/{number}", "actor": actor_id, "object": object_id},
                      separators=(",", ":")).encode()
    headers = {"Host": authority, "Content-Type": "application/activity+json"}
    headers.update(sign_headers("POST", f"http://{authority}{path}", headers, body, key_id,
                                _SIGNING_KEYS[key_id], datetime.now(timezone.utc)))
    head = f"POST {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + \
        f"User-Agent: linkblog-bench\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    return head.encode("latin-1") + body


def presign(actors: list[dict], object_id: str, count: int, port: int, start: int = 0) -> list[bytes]:
    """Requests signed before the timed phase (in as many processes as CPUs), so the load generator only
    writes bytes. Alternate paths: /actor/inbox and the shared /inbox."""
    import multiprocessing

    jobs = [(actors[n % len(actors)]["id"], actors[n % len(actors)]["key_id"], object_id, n,
             "/inbox" if n % 2 else "/actor/inbox", f"{HOST}:{port}") for n in range(start, start + count)]
    keys = [(a["key_id"], a["private_pem"]) for a in actors]
    with multiprocessing.get_context("spawn").Pool(os.cpu_count() or 1, initializer=_signing_init,
                                                   initargs=(keys,)) as pool:
        return pool.map(_sign_like, jobs, chunksize=200)


async def _one_request(port: int, payload: bytes, timeout: float) -> tuple[str, float]:
    started = time.perf_counter()
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port), timeout)
        try:
            writer.write(payload)
            answer = await asyncio.wait_for(reader.read(-1), timeout)  # sync workers close after the response
        finally:
            writer.close()
    except (OSError, asyncio.TimeoutError) as exc:
        return type(exc).__name__, time.perf_counter() - started
    status = answer[9:12].decode("latin-1", "replace") if answer.startswith(b"HTTP/1.") else "garbled"
    return status, time.perf_counter() - started


async def load_generator(port: int, requests: list[bytes], connections: int, duration: float) -> dict:
    """``connections`` concurrent senders, each taking the next pre-signed request until the requests or the
    time run out. Each request is its own connection (gunicorn's sync workers close them)."""
    statuses: Counter = Counter()
    latencies: list[float] = []
    position = 0
    deadline = time.perf_counter() + duration

    async def sender() -> None:
        nonlocal position
        while position < len(requests) and time.perf_counter() < deadline:
            payload = requests[position]
            position += 1
            status, seconds = await _one_request(port, payload, 10)
            statuses[status] += 1
            latencies.append(seconds * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    return {"statuses": dict(statuses), "seconds": elapsed, "sent": position,
            "exhausted": position >= len(requests), "p50_ms": web.percentile(latencies, 0.5),
            "p95_ms": web.percentile(latencies, 0.95)}


def send_load(args: argparse.Namespace, requests: list[bytes]) -> dict:
    """The timed load, by the chosen generator; the result says which one ran."""
    if args.load_generator == "wrk":
        result = replay.run(args.port, requests, args.connections, args.duration)
        if result is not None:
            return result
        print("  wrk is not installed: the Python load generator runs instead", flush=True)
    result = asyncio.run(load_generator(args.port, requests, args.connections, args.duration))
    result["generator"] = f"python asyncio, {args.connections} connections"
    return result


def inbox_rows(engine) -> Counter:  # noqa: ANN001
    from sqlalchemy import func, select

    from linkblog.models import InboxActivity

    IA = InboxActivity.__table__
    with engine.connect() as conn:
        return Counter(dict(conn.execute(select(IA.c.type, func.count()).group_by(IA.c.type)).all()))


def public_bookmark(engine, config) -> str:  # noqa: ANN001
    """The AS2 id of a public bookmark (one of the Creates above, or a new one saved without federation)."""
    from sqlalchemy import select

    from linkblog import bookmarks
    from linkblog.federation.objects import urls
    from linkblog.models import Bookmark

    B = Bookmark.__table__
    with engine.begin() as conn:
        found = conn.execute(select(B.c.id).where(B.c.visibility == "public").order_by(B.c.id).limit(1)).scalar()
        if found is None:
            found = bookmarks.create(conn, bookmarks.BookmarkInput(
                url="https://bench.example/federation/liked", title="A bookmark to like", annotation="",
                quote="", tags=["bench"], visibility="public"))
    return urls(config).bookmark(found)


def inbox_phase(args: argparse.Namespace, config, engine, config_file: Path) -> dict:  # noqa: ANN001
    result: dict = {}
    print(f"  generating {args.actors} RSA-2048 actor keys ...", flush=True)
    actors = make_actors(args.actors, args.actor_port)
    object_id = public_bookmark(engine, config)
    warm = presign(actors, object_id, len(actors), args.port)
    t0 = time.perf_counter()
    timed = presign(actors, object_id, args.inbox_requests, args.port, start=len(actors))
    result["presign_s"] = time.perf_counter() - t0
    print(f"  pre-signed {len(timed):,} Likes in {result['presign_s']:.1f} s", flush=True)
    actor_server = receiver.ActorServers([a["host"] for a in actors], args.actor_port,
                                         {a["host"]: a["document"] for a in actors})
    server = web.Server(str(config_file), args.port, args.web_workers, args.dir / "gunicorn.log",
                        args.gunicorn.split() if args.gunicorn else None)
    try:
        actor_server.start()
        server.start()
        rows_before = inbox_rows(engine)
        # The first Like from each actor makes the app fetch its key (and cache it in remote_actors).
        warm_result = asyncio.run(load_generator(args.port, warm, 1, 60))
        result["warmup"] = warm_result
        result["key_fetches_warmup"] = actor_server.fetches()
        print(f"  warm-up: {len(warm)} Likes (one per actor, each key fetched once): "
              f"{warm_result['statuses']}; actor documents served: {result['key_fetches_warmup']['total']}",
              flush=True)
        result["others_before"] = web.wait_for_quiet(args.quiet_wait) if args.quiet_wait > 0 else None
        pids = [server.proc.pid, *web.children_of(server.proc.pid)]
        with web.CpuMeter(pids) as meter:
            load = send_load(args, timed)
        # wrk stops with requests still in flight (sent, never answered); the server finishes them.
        answered = sum(load["statuses"].values())
        time.sleep(0.5 if answered < load["sent"] else 0)
        result["load"] = load
        result["cpu"] = meter.summary(answered)
        result["rss_kb"] = server.rss()
        result["pss_kb"] = server.pss()
        result["key_fetches_total"] = actor_server.fetches()
        rows_after = inbox_rows(engine)
        result["queued_likes"] = rows_after.get("Like", 0) - rows_before.get("Like", 0) - warm_result["statuses"].get(
            "202", 0)
    finally:
        server.stop()
        actor_server.stop()
    accepted = load["statuses"].get("202", 0)
    result["rate"] = accepted / load["seconds"] if load["seconds"] else None
    print(f"  load generator: {load['generator']}", flush=True)
    print(f"  {args.connections} connections for {load['seconds']:.1f} s: {load['sent']:,} sent, {accepted:,} × 202 "
          f"= {result['rate']:.0f}/s (target >= {INBOX_RATE_TARGET:,}/s); statuses {load['statuses']}; {result['queued_likes']:,} new Like rows queued; "
          f"server CPU {result['cpu']['server_cpu_ms_per_request']:.2f} ms/request, load generator "
          f"{result['cpu']['client_cpu_share'] * 100:.0f}% / other processes "
          f"{result['cpu']['other_processes_cpu_share'] * 100:.0f}% of a CPU", flush=True)
    return result


# --- profiling ---------------------------------------------------------------------------------------------

def print_profile(profiler, top: int, title: str) -> None:  # noqa: ANN001
    import io
    import pstats

    for order in ("tottime", "cumulative"):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(top)
        lines = out.getvalue().splitlines()
        start = next((i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls")), 0)
        print(f"  cProfile by {order} ({title}; profiler overhead included):")
        for line in lines[start:start + top + 1]:
            print("    " + line.replace(str(ROOT) + "/", "").replace(sys.prefix + "/lib/", ""))


class SqlTimer:
    """Every statement on an engine with its count and time (any thread)."""

    def __init__(self, engine) -> None:  # noqa: ANN001
        from sqlalchemy import event

        self.statements: dict[str, list] = {}
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn, _cursor, _statement, _params, _context, _many) -> None:  # noqa: ANN001
        conn.info["bench_t0"] = time.perf_counter()

    def _after(self, conn, _cursor, statement, _params, _context, many) -> None:  # noqa: ANN001
        entry = self.statements.setdefault(statement, [0, 0.0])
        entry[0] += 1
        entry[1] += time.perf_counter() - conn.info.pop("bench_t0", time.perf_counter())

    def report(self, per: int, unit: str, limit: int = 12) -> None:
        total = sum(s for _, s in self.statements.values())
        print(f"  SQL: {total * 1000:.0f} ms in {sum(c for c, _ in self.statements.values())} statements "
              f"({total * 1e6 / per:.0f} µs per {unit}); the slowest:")
        for statement, (count, seconds) in sorted(self.statements.items(), key=lambda kv: -kv[1][1])[:limit]:
            print(f"    {seconds * 1000:8.1f} ms x{count:<5} {' '.join(statement.split())[:150]}")


def profile_delivery(args: argparse.Namespace, config, engine) -> None:  # noqa: ANN001
    """The worker's own loop (run_cycle with make_poster/owner_auth/delivery_policy) in this process, once
    plain for the wall time, once under cProfile; claim/record/inbox timed in their threads."""
    import cProfile

    from linkblog.db import make_engine
    from linkblog.federation import delivery, worker
    from linkblog.federation.net import AsyncFetchClient

    phases: dict[str, list[float]] = {}

    def timed(name: str, fn):  # noqa: ANN001, ANN202
        def wrapper(*a, **kw):  # noqa: ANN002, ANN003, ANN202
            wall0, cpu0 = time.perf_counter(), time.thread_time()
            try:
                return fn(*a, **kw)
            finally:
                entry = phases.setdefault(name, [0, 0.0, 0.0])
                entry[0] += 1
                entry[1] += time.perf_counter() - wall0
                entry[2] += time.thread_time() - cpu0
        return wrapper

    originals = (delivery.claim, delivery.record, worker._process_inbox)
    delivery.claim = timed("claim (thread)", delivery.claim)
    delivery.record = timed("record (thread)", delivery.record)
    worker._process_inbox = timed("process inbox (thread)", worker._process_inbox)

    async def drain(job: dict, work_engine) -> float:  # noqa: ANN001
        auth = worker.owner_auth(work_engine, config)
        async with AsyncFetchClient(worker.delivery_policy(config)) as client:
            post = worker.make_poster(client, auth)
            started = time.perf_counter()
            while delivery_states(engine, job["activity_id"]).get("queued", 0):
                if time.perf_counter() - started > args.timeout:
                    break
                await worker.run_cycle(work_engine, config, post)
            return time.perf_counter() - started

    try:
        for profiled in (False, True):
            phases.clear()
            work_engine = make_engine(config.database_url)
            sql = SqlTimer(work_engine)
            job = queue_create(engine, config, f"profile-{int(profiled)}-{int(time.time())}")
            profiler = cProfile.Profile() if profiled else None
            cpu0 = time.process_time()
            if profiler:
                profiler.enable()
            seconds = asyncio.run(drain(job, work_engine))
            if profiler:
                profiler.disable()
            cpu = time.process_time() - cpu0
            done = delivery_states(engine, job["activity_id"]).get("done", 0)
            label = "under cProfile" if profiled else "plain"
            print(f"\n=== delivery in-process ({label}): {done:,}/{job['rows']:,} done in {seconds:.2f} s = "
                  f"{done / seconds:.0f}/s; {cpu * 1000 / max(1, done):.2f} ms CPU per delivery (all threads)")
            for name, (count, wall, thread_cpu) in phases.items():
                print(f"  {name:<24} {count:4} calls, {wall * 1000:7.0f} ms wall, {thread_cpu * 1000:7.0f} ms CPU")
            sql.report(max(1, done), "delivery")
            if profiler:
                print_profile(profiler, args.profile_top, f"{done} deliveries, main thread only")
            work_engine.dispose()
    finally:
        delivery.claim, delivery.record, worker._process_inbox = originals


def profile_inbox(args: argparse.Namespace, config, engine) -> None:  # noqa: ANN001
    """Flask's test client in this process: CPU per verified inbox POST, its SQL, and cProfile."""
    import cProfile

    from linkblog import create_app

    app = create_app(config)
    holder_engine = app.extensions["linkblog"].engine
    actors = make_actors(min(args.actors, 10), args.actor_port)
    object_id = public_bookmark(engine, config)
    count = min(args.inbox_requests, 600)
    requests = presign(actors, object_id, len(actors) + 2 * count, args.port)
    actor_server = receiver.ActorServers([a["host"] for a in actors], args.actor_port,
                                         {a["host"]: a["document"] for a in actors})
    client = app.test_client()

    def post(raw: bytes):  # noqa: ANN202
        head, body = raw.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        path = lines[0].split(" ")[1]
        headers = dict(line.split(": ", 1) for line in lines[1:])
        headers.pop("Content-Length", None)
        return client.post(path, data=body, headers=headers, environ_overrides={"RAW_URI": path})

    actor_server.start()
    try:
        warm = Counter(post(r).status_code for r in requests[:len(actors)])
        print(f"\n=== inbox in-process: warm-up {dict(warm)} (keys fetched from the actor server)")
        sql = SqlTimer(holder_engine)
        statuses: Counter = Counter()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for raw in requests[len(actors):len(actors) + count]:
            statuses[post(raw).status_code] += 1
        cpu_ms = (time.process_time() - cpu0) * 1000 / count
        wall_ms = (time.perf_counter() - wall0) * 1000 / count
        print(f"  {count} POSTs: {dict(statuses)}; {cpu_ms:.2f} ms CPU / {wall_ms:.2f} ms wall per POST "
              f"(target {INBOX_RATE_TARGET:,}/s on 2 CPUs needs <= {2000 / INBOX_RATE_TARGET:.2f} ms each, gunicorn and "
              f"the load generator included)")
        sql.report(count, "POST")
        profiler = cProfile.Profile()
        profiler.enable()
        for raw in requests[len(actors) + count:]:
            post(raw)
        profiler.disable()
        print_profile(profiler, args.profile_top, f"{count} POSTs")
    finally:
        actor_server.stop()


# --- main --------------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="instance folder (recreated every run)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="the instance's port (base_url, gunicorn)")
    parser.add_argument("--receiver-port", type=int, default=RECEIVER_PORT)
    parser.add_argument("--actor-port", type=int, default=ACTOR_PORT)
    parser.add_argument("--only", default="delivery,inbox", help="delivery, inbox or both (comma-separated)")
    parser.add_argument("--followers", type=int, default=1000, help="follower inboxes, one loopback address each")
    parser.add_argument("--processes", default="1,2,4", help="worker process counts to try, one run each")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs per process count; the report shows the fastest of them")
    parser.add_argument("--receiver-processes", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=60, help="seconds a delivery run may take at most")
    parser.add_argument("--actors", type=int, default=50, help="remote actors signing inbox POSTs")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=float, default=10, help="seconds of inbox load")
    parser.add_argument("--load-generator", choices=("wrk", "python"), default="wrk",
                        help="inbox load: wrk replaying the pre-signed requests (bench/replay.py; the Python "
                             "generator when wrk is missing) or the asyncio generator in this process")
    parser.add_argument("--inbox-requests", type=int, default=20000,
                        help="Likes pre-signed for the timed inbox phase (it ends early if they run out)")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--gunicorn", default="", help="worker options instead of '-k sync', e.g. '-k gthread "
                                                        "--threads 4 --access-logfile -' (what linkblog serve runs)")
    parser.add_argument("--quiet-wait", type=float, default=30,
                        help="seconds to wait, before each run, for other processes to leave the CPUs alone")
    parser.add_argument("--profile", action="store_true", help="in-process profiles instead of the benchmark")
    parser.add_argument("--profile-top", type=int, default=20)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    args.processes = [int(p) for p in args.processes.split(",") if p]
    wanted = set(args.only.split(","))
    if not 1 <= args.repeat <= 10 or not 1 <= args.followers <= 1000 * 4 or not all(1 <= p <= 16 for p in args.processes) \
            or not 1 <= args.duration <= 120 or not 1 <= args.timeout <= 600 or not 1 <= args.actors <= 250 \
            or not 1 <= args.connections <= 256 or not 1 <= args.inbox_requests <= 100_000:
        parser.error("keep --repeat <= 10, --followers <= 4000, --processes 1-16, --duration <= 120, --timeout <= 600, "
                     "--actors <= 250, --connections <= 256, --inbox-requests <= 100000")
    args.dir = args.dir.resolve()
    for port in (args.port, args.receiver_port, args.actor_port):
        if not web.port_is_free(port):
            print(f"port {port} on {HOST} is in use; choose another (--port, --receiver-port, --actor-port)")
            return 1

    try:
        config_file = make_instance(args.dir, args.port)
    except RuntimeError as exc:
        print(f"benchmark could not run: {exc}")
        return 1
    config, engine = load(config_file)
    private_pem, public_pem = owner_key(engine)
    from linkblog.federation.objects import urls

    key_id = urls(config).key_id
    hosts = receiver.addresses(args.followers)
    add_followers(engine, hosts, args.receiver_port)
    print(f"Instance {args.dir}: {args.followers:,} accepted followers, inboxes http://{hosts[0]}:"
          f"{args.receiver_port}/inbox ... http://{hosts[-1]}:{args.receiver_port}/inbox", flush=True)

    receivers = receiver.Receivers(hosts, args.receiver_port, public_pem, key_id, processes=args.receiver_processes)
    results: dict = {"followers": args.followers, "cpus": os.cpu_count()}
    stopping = {"flag": False}

    def on_signal(signum, _frame):  # noqa: ANN001, ANN202
        stopping["flag"] = True
        raise SystemExit(130)

    signal.signal(signal.SIGTERM, on_signal)
    has_inbox = inbox_available(config)
    try:
        if "delivery" in wanted or args.profile:
            receivers.start()
            print(f"Receiver: {len(receivers.procs)} processes on {len(hosts):,} addresses, verifying with "
                  f"{key_id}", flush=True)
        if args.profile:
            if "delivery" in wanted:
                profile_delivery(args, config, engine)
            if "inbox" in wanted:
                if has_inbox:
                    profile_inbox(args, config, engine)
                else:
                    print("\n(no POST /inbox in this version of the app: inbox profile skipped)")
            return 0
        if "delivery" in wanted:
            print("Delivery fan-out (linkblog worker):", flush=True)
            results["delivery"] = delivery_phase(args, config, engine, config_file, receivers)
        receivers.stop()
        if "inbox" in wanted:
            if has_inbox:
                print(f"Inbox throughput (gunicorn -w {args.web_workers} {args.gunicorn or '-k sync'}):", flush=True)
                results["inbox"] = inbox_phase(args, config, engine, config_file)
            else:
                results["inbox"] = None
                print("Inbox throughput: skipped, this version of the app has no POST /inbox yet")
    except (RuntimeError, OSError) as exc:
        print(f"benchmark could not run: {exc}")
        return 1
    finally:
        receivers.stop()
        engine.dispose()

    report(args, results)
    out = args.json or (ROOT / "bench" / "out" / "federation.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"(results also in {out})")
    return 0


def report(args: argparse.Namespace, results: dict) -> None:
    print()
    print(f"== linkblog federation benchmark (SQLite; {args.followers:,} followers on {args.followers:,} loopback "
          f"inboxes; {os.cpu_count()} CPUs) ==")
    problems = []
    runs = results.get("delivery", [])
    for n in dict.fromkeys(r["processes"] for r in runs):
        same = sorted((r for r in runs if r["processes"] == n), key=lambda r: r["total_s"])
        if len(same) > 1:
            totals = ", ".join(f"{r['total_s']:.2f}" for r in same)
            print(f"delivery, {n} worker process{'es' if n > 1 else ''}: {len(same)} runs, {totals} s; the "
                  f"fastest is shown (the machine is shared: slower runs had more interference)")
        run = same[0]
        name = f"delivery, {n} worker process{'es' if n > 1 else ''}"
        print(f"{name}: {run['done']:,} signed deliveries in {run['total_s']:.2f} s "
              f"{verdict(run['total_s'], DELIVERY_SECONDS_TARGET, True)}")
        print(f"{name}: {run['rate']:.0f} deliveries/s {verdict(run['rate'], DELIVERY_RATE_TARGET, False)}")
        if run["startup_s"] is not None:
            print(f"{name}:   of which start-up {run['startup_s']:.2f} s (process start to first request), "
                  f"delivering {run['delivering_s']:.2f} s = {run['delivering_rate']:.0f}/s (no target)")
        seen = run["receiver"]
        print(f"{name}: receiver verified {seen['verified']:,} {verdict(seen['verified'], run['rows'], False)}, "
              f"distinct inboxes {seen['inboxes']:,}, failed {seen['failed']} {verdict(seen['failed'], 0, True)}, "
              f"received twice {seen['twice']} {verdict(seen['twice'], 0, True)}")
        hwm = run["hwm_mb"]
        print(f"{name}: worker peak RSS (VmHWM) {max(hwm):.1f} MB per process "
              f"{verdict(max(hwm), WORKER_RSS_TARGET_MB, True)}"
              + (f"; sum {sum(hwm):.1f} MB ({', '.join(f'{m:.1f}' for m in hwm)}) "
                 f"{verdict(sum(hwm), WORKER_RSS_TARGET_MB, True)}" if len(hwm) > 1 else ""))
        if run["worker_cpu_ms_per_delivery"] is not None:
            print(f"{name}: worker CPU {run['worker_cpu_ms_per_delivery']:.2f} ms per delivery (start-up "
                  f"included), receiver {run['receiver_cpu_ms_per_request']:.2f} ms per request (no target)")
        if run["other_cpu_share"] > 0.25:
            problems.append(f"{name}: other processes used {run['other_cpu_share'] * 100:.0f}% of a CPU meanwhile; "
                            f"the times are inflated")
    for number, run in enumerate(runs, start=1):  # correctness, in every run (not only the fastest)
        name = f"delivery run {number} ({run['processes']} worker process{'es' if run['processes'] > 1 else ''})"
        seen = run["receiver"]
        if run["done"] != run["rows"]:
            problems.append(f"{name}: only {run['done']} of {run['rows']} rows done; states {run['states']}; "
                            f"{run['errors']}")
        if run["exited_early"]:
            problems.append(f"{name}: worker exited early {run['exited_early']} (see {args.dir / 'worker.log'})")
        if seen["failed"] or seen["twice"] or seen["verified"] != run["rows"]:
            problems.append(f"{name}: receiver verified {seen['verified']}, refused {seen['failed']} "
                            f"{seen['reasons']}, {seen['twice']} inboxes twice")
    inbox = results.get("inbox")
    if inbox:
        load = inbox["load"]
        print(f"inbox: {inbox['rate']:.0f} verified-and-queued POSTs/s with {args.connections} connections "
              f"{verdict(inbox['rate'], INBOX_RATE_TARGET, False)}; load generator: {load.get('generator', 'python')}, "
              f"{inbox['cpu']['client_cpu_share'] * 100:.0f}% of a CPU")
        print(f"inbox: {load['sent']:,} POSTs in {load['seconds']:.1f} s, statuses {load['statuses']}; "
              f"latency p50 {load['p50_ms']:.1f} ms, p95 {load['p95_ms']:.1f} ms; server CPU "
              f"{inbox['cpu']['server_cpu_ms_per_request']:.2f} ms per POST (no target of its own: "
              f"{INBOX_RATE_TARGET:,}/s on {os.cpu_count()} CPUs leaves at most "
              f"{(os.cpu_count() or 1) * 1000 / INBOX_RATE_TARGET:.2f} ms per POST for the server and the load "
              f"generator together)")
        print(f"inbox: key fetches (actor documents served) {inbox['key_fetches_total']['total']} for "
              f"{args.actors} actors (no target)")
        rss = inbox["rss_kb"]
        print(f"inbox: web server RSS {sum(rss.values()) / 1024:.1f} MB (master + {len(rss) - 1} workers: "
              f"{', '.join(f'{v / 1024:.1f}' for v in rss.values())} MB) (no target; the web benchmark's is "
              f"<= {web.RSS_TARGET_MB} MB)")
        non = {k: v for k, v in load["statuses"].items() if k != "202"}
        if non:
            problems.append(f"inbox: non-202 answers {non} (see {args.dir / 'gunicorn.log'})")
        if not load["statuses"].get("202", 0) <= inbox["queued_likes"] <= load["sent"]:
            problems.append(f"inbox: {load['statuses'].get('202', 0)} × 202 but {inbox['queued_likes']} Like rows "
                            f"queued")
        if load["exhausted"]:
            problems.append(f"inbox: the {load['sent']:,} pre-signed requests ran out before {args.duration:g} s "
                            f"(raise --inbox-requests)")
        if inbox["cpu"]["other_processes_cpu_share"] > 0.25:
            problems.append("inbox: other processes used more than a quarter of a CPU meanwhile")
    elif "inbox" in results:
        print("inbox: NOT MEASURED (no POST /inbox in this version of the app)")
    if problems:
        print("PROBLEMS:")
        for p in problems:
            print("  - " + p)


if __name__ == "__main__":
    sys.exit(main())
