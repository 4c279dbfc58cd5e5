"""Link-check benchmark (issue 11): checks per second on many hosts with the per-host limit on, the checking
worker's peak RSS, the time to extract the text of a typical 200 KB article, and search latency over 100,000
bookmarks.

    .venv/bin/python bench/links.py                       # everything, about 2-3 minutes
    .venv/bin/python bench/links.py --only checks --gap 10
    .venv/bin/python bench/links.py --only extract,search

**Checks.** A new instance in ``bench/out/links`` (the real ``linkblog init``, then ``[links] check = true``,
``per_host_gap``, ``check_concurrency`` and ``[federation] allow_private_addresses = true`` in its
config.toml) gets 10,000 bookmarks on 1,000 loopback hosts (``http://127.0.x.y:PORT/...``, 10 per host, in
random order as saves come), served by ``bench/linkweb.py`` (two asyncio processes, 500 addresses each). Then
the real ``linkblog worker`` runs, as an owner runs it, and checks them: its links loop takes batches of due
links (``check_due(spread=True)``) and checks up to ``check_concurrency`` hosts at once, each host one request
at a time with ``per_host_gap`` between two checks. The script polls ``link_checks`` until every bookmark has
a row, reads the worker's ``VmHWM`` meanwhile, and stops it by its pid. Checks per second are counted from the
first check to the last (``checked_at``); the worker's start-up is shown apart. The pages: 60 % articles with
an ETag, 10 % without validators, 10 % permanent redirects, 10 % 404, 5 % HEAD refused (405), 5 % 429 with
Retry-After (that host's other links then wait without a request). Articles are markup-heavy HTML of 30-147 KB.

With 1,000 hosts, checks per second can never exceed hosts / ``per_host_gap`` (100/s at the default 10 s):
the benchmark uses ``--gap`` (default 2 s, a polite crawler's pace) and prints that ceiling.

**Extraction.** On a 200 KB article built like the benchmark's pages, the median of 20 runs of two readers:
what a page copy keeps (``links.extract.html_page``: trafilatura's main text, sanitised, its plain text; the
figure the target is about) and the checker's own ``page_text`` (``--extract module:function`` points that one
elsewhere). The fingerprint the checker then computes from the text is shown for information.

**Search.** ``bench/seed.py``'s instance (100,000 bookmarks, created once in ``bench/out/sqlite``), ``/search``
for the seeded word through Flask's test client, 200 requests after 20 to warm up; p50 and p95. Every bookmark
first gets a finished page copy with about 1,500 characters of text (``add_page_text``, once), so the search
runs over the saved pages' text too, as it does on an instance that keeps copies.

Nothing leaves loopback; every process started is stopped by its pid. Exits 0 whether or not the targets are
met. Results also go to ``bench/out/links.json``.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import linkweb  # noqa: E402
from federation import status_kb  # noqa: E402
from web import cpu_seconds, verdict  # noqa: E402
from sqlalchemy import func, insert, select  # noqa: E402

from linkblog.db import make_engine  # noqa: E402
from linkblog.models import BOOKMARKS, LINK_CHECKS  # noqa: E402

EXTRACT = "linkblog.links.resemblance:page_text"   # what turns a fetched page into its text (link checks)
COPY_EXTRACT = "bench_links_copy:copy_text"          # what a saved copy keeps (trafilatura, ``links.extract``)


def copy_text(body: bytes, content_type: str) -> str:
    """The readable text a page copy keeps (``links.extract.html_page``: trafilatura, in this process)."""
    from linkblog.links.extract import html_page

    return html_page(body, content_type, "https://bench.example/article", 200_000).text
TARGETS = {"checks": 200.0, "rss": 120.0, "extract": 40.0, "search": 25.0}
MIX = [("a", 0.60), ("b", 0.10), ("r", 0.10), ("g", 0.10), ("h", 0.05), ("w", 0.05)]
OUT = ROOT / "bench" / "out"
CLI = [sys.executable, "-c", "import sys; from linkblog.cli import main; sys.argv[0] = 'linkblog'; sys.exit(main())"]


def env_for(config_file: Path) -> dict[str, str]:
    """This checkout's code, this instance's config, nothing from the caller's LINKBLOG_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINKBLOG_")}
    return {**env, "PYTHONPATH": str(ROOT), "LINKBLOG_CONFIG": str(config_file)}


def _die_with_parent() -> None:
    """In the started worker: get SIGTERM if this script dies, so it never outlives the benchmark."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


# --- checks ----------------------------------------------------------------------------------------------

def make_instance(directory: Path, gap: float, concurrency: int) -> Path:
    shutil.rmtree(directory, ignore_errors=True)
    subprocess.run([*CLI, "init", "--dir", str(directory), "--base-url", "http://127.0.0.1:8767"],
                   env=env_for(directory / "config.toml"), cwd=str(ROOT), check=True, capture_output=True)
    config_file = directory / "config.toml"
    with config_file.open("a", encoding="utf-8") as handle:
        handle.write(f"\n[federation]\nallow_private_addresses = true\n\n[links]\ncheck = true\n"
                     f"per_host_gap = {int(gap)}\ncheck_concurrency = {concurrency}\n\n"
                     f"[logging]\nlevel = \"WARNING\"\n")
    return config_file


def bookmark_urls(hosts: list[str], port: int, per_host: int, rng: random.Random) -> list[str]:
    kinds, weights = [k for k, _ in MIX], [w for _, w in MIX]
    urls = [f"http://{host}:{port}/{rng.choices(kinds, weights)[0]}{n}" for host in hosts for n in range(per_host)]
    rng.shuffle(urls)
    return urls


def run_checks(args: argparse.Namespace) -> dict:
    directory = OUT / "links"
    config_file = make_instance(directory, args.gap, args.concurrency)
    engine = make_engine(f"sqlite:///{directory / 'linkblog.db'}")
    hosts = linkweb.addresses(args.hosts)
    port = linkweb.free_port()
    urls = bookmark_urls(hosts, port, args.per_host, random.Random(11))
    with engine.begin() as conn:
        conn.execute(insert(BOOKMARKS), [{"url": url, "title": f"Link {n}"} for n, url in enumerate(urls)])
    web = linkweb.start(hosts, port)
    result: dict = {"links": len(urls), "hosts": len(hosts), "per_host_gap": args.gap,
                    "check_concurrency": args.concurrency, "ceiling_per_s": len(hosts) / args.gap if args.gap else None}
    try:
        load_before = os.getloadavg()
        started = time.monotonic()
        with (directory / "worker.log").open("w") as log:
            worker = subprocess.Popen([*CLI, "worker"], env=env_for(config_file), cwd=str(ROOT), stdout=log,
                                      stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                      preexec_fn=_die_with_parent)
        hwm, done, first_seen = 0, 0, None
        try:
            while time.monotonic() - started < args.timeout and worker.poll() is None:
                time.sleep(0.25)
                hwm = max(hwm, status_kb(worker.pid, "VmHWM"))
                with engine.connect() as conn:
                    done = conn.execute(select(func.count()).select_from(LINK_CHECKS)).scalar_one()
                if done and first_seen is None:
                    first_seen = time.monotonic() - started
                if done >= len(urls):
                    break
            hwm = max(hwm, status_kb(worker.pid, "VmHWM"))
            cpu = cpu_seconds(worker.pid)
        finally:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(20)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        wall = time.monotonic() - started
        stats = [json.loads(_get(f"http://{hosts[n]}:{port}/_stats")) for n in range(2)]
    finally:
        linkweb.stop(web)
    with engine.connect() as conn:
        first, last = conn.execute(select(func.min(LINK_CHECKS.c.checked_at), func.max(LINK_CHECKS.c.checked_at))).one()
        states = dict(conn.execute(select(LINK_CHECKS.c.state, func.count()).group_by(LINK_CHECKS.c.state)).all())
    engine.dispose()
    span = (last - first).total_seconds() if isinstance(first, datetime) and isinstance(last, datetime) else None
    gaps = [s["smallest_gap"] for s in stats if s["smallest_gap"] is not None]
    result.update(checked=done, seconds_first_to_last=span, checks_per_s=(done - 1) / span if span else None,
                  worker_wall_s=wall, worker_first_check_s=first_seen, worker_peak_rss_mb=hwm / 1024,
                  worker_cpu_s=cpu, states=states, requests=sum(s["requests"] for s in stats),
                  hosts_asked=sum(s["hosts_asked"] for s in stats), smallest_gap_s=min(gaps) if gaps else None,
                  most_connections_per_host=max(s["most_connections_per_host"] for s in stats),
                  web_cpu_s=sum(s["cpu_seconds"] for s in stats), load_before=load_before, load_after=os.getloadavg())
    return result


def _get(url: str) -> str:
    import httpx

    return httpx.get(url, timeout=10).text


# --- extraction --------------------------------------------------------------------------------------------

def load(name: str) -> Callable[..., str]:
    module, _, function = name.partition(":")
    if module == "bench_links_copy":  # this script's own wrapper around the page copies' reader
        return globals()[function]
    return getattr(importlib.import_module(module), function)


def run_extract(args: argparse.Namespace) -> dict:
    from linkblog.links.resemblance import fingerprint

    extract = load(args.extract)
    page = linkweb.article(random.Random(200), 200_000)
    times, text = [], ""
    for _ in range(21):
        start = time.perf_counter()
        text = extract(page, "text/html; charset=utf-8")
        times.append((time.perf_counter() - start) * 1000)
    prints = []
    for _ in range(11):
        start = time.perf_counter()
        fingerprint(text)
        prints.append((time.perf_counter() - start) * 1000)
    return {"function": args.extract, "page_bytes": len(page), "text_chars": len(text),
            "median_ms": statistics.median(times[1:]), "fingerprint_ms": statistics.median(prints[1:])}


# --- search -----------------------------------------------------------------------------------------------

PAGE_TEXT_CHARS = 1500   # of readable text per saved page: a short article's worth


def add_page_text(engine, info: dict) -> int:  # noqa: ANN001
    """A finished page copy for every seeded bookmark that has none (about 1,500 characters of prose drawn like
    ``seed.py``'s annotations, so the search word is in some of them), as the worker would leave it; the
    full-text index of saved pages is kept by its triggers. Returns the rows added (0 the second time)."""
    import random as _random

    import seed
    from sqlalchemy import func, insert, select

    from linkblog.db import utcnow
    from linkblog.models import BOOKMARKS, PAGE_COPIES

    with engine.connect() as conn:
        if conn.execute(select(func.count()).select_from(PAGE_COPIES)).scalar_one():
            return 0
        ids = conn.execute(select(BOOKMARKS.c.id)).scalars().all()
    rng = _random.Random(11)
    words = seed.Zipf(seed.WORDS, 1.0, rng)
    now = utcnow()
    added = 0
    print(f"  adding a saved page to each of {len(ids):,} bookmarks (once; the index is built as they go in) ...",
          flush=True)
    for start in range(0, len(ids), 2000):
        rows = [{"bookmark_id": i, "state": "done", "host": "bench.example", "final_url": "", "status": 200,
                 "content_type": "text/html", "title": "", "text": seed.sentence(words, rng, PAGE_TEXT_CHARS),
                 "fetched_at": now, "next_attempt_at": now, "created_at": now} for i in ids[start:start + 2000]]
        with engine.begin() as conn:
            conn.execute(insert(PAGE_COPIES), rows)
        added += len(rows)
    return added


def run_search(args: argparse.Namespace) -> dict:
    from urllib.parse import quote

    import seed

    from linkblog import create_app
    from linkblog.config import load_config

    info = seed.ensure_seeded(OUT / "sqlite")
    # Readers may read saved copies here, so the search reads the saved pages' index as the owner's would.
    app = create_app(load_config(info["config"], environ={}, overrides={("copies", "readers_may_see"): True}))
    page_text_rows = add_page_text(app.extensions["linkblog"].engine, info)
    client = app.test_client()
    path = f"/search?q={quote(info['search_word'])}"
    response = client.get(path)
    assert response.status_code == 200 and b"h-entry" in response.data, (response.status_code, path)
    for _ in range(20):
        client.get(path)
    times = []
    cpu = time.process_time()
    for _ in range(args.requests):
        start = time.perf_counter()
        client.get(path)
        times.append((time.perf_counter() - start) * 1000)
    cpu_ms = (time.process_time() - cpu) * 1000 / args.requests
    times.sort()
    return {"path": path, "bookmarks": info["bookmarks"], "page_text_rows": page_text_rows,
            "p50_ms": statistics.median(times), "p95_ms": times[int(len(times) * 0.95) - 1], "cpu_ms": cpu_ms,
            "load": os.getloadavg()}


# --- report ----------------------------------------------------------------------------------------------

def report(results: dict) -> None:
    print()
    if "checks" in results:
        c = results["checks"]
        ceiling = f"{c['ceiling_per_s']:.0f}/s" if c["ceiling_per_s"] else "none"
        print(f"Checks: {c['checked']:,} of {c['links']:,} links on {c['hosts']:,} loopback hosts; per_host_gap "
              f"{c['per_host_gap']:g} s (ceiling hosts/gap: {ceiling}), check_concurrency {c['check_concurrency']}")
        print(f"  states {dict(sorted(c['states'].items()))}; {c['requests']:,} requests to {c['hosts_asked']:,} "
              f"hosts; worker start to first check {c['worker_first_check_s'] or float('nan'):.1f} s, "
              f"first to last check {c['seconds_first_to_last'] or float('nan'):.1f} s")
        print(f"  politeness seen by the sites: smallest gap between two checks of one host "
              f"{c['smallest_gap_s'] if c['smallest_gap_s'] is None else round(c['smallest_gap_s'], 3)} s, "
              f"most connections open to one host at once {c['most_connections_per_host']} (an idle kept-alive "
              f"connection the client dropped still counts until the site sees it close)")
        per_check = c["worker_cpu_s"] * 1000 / c["checked"] if c["checked"] else float("nan")
        print(f"  CPU: worker {c['worker_cpu_s']:.1f} s ({per_check:.2f} ms per check: one free core would do about "
              f"{1000 / per_check:.0f} checks/s), loopback web {c['web_cpu_s']:.1f} s; load average "
              f"before {'/'.join(f'{x:.2f}' for x in c['load_before'])}, "
              f"after {'/'.join(f'{x:.2f}' for x in c['load_after'])} (2 shared cores)")
        print(f"  {'checks per second':34} {c['checks_per_s'] or float('nan'):8.1f}   "
              f"{verdict(c['checks_per_s'], TARGETS['checks'], False)}")
        print(f"  {'worker peak RSS (VmHWM), MB':34} {c['worker_peak_rss_mb']:8.1f}   "
              f"{verdict(c['worker_peak_rss_mb'], TARGETS['rss'], True)}")
    for key in ("extract", "extract_copy"):
        if key not in results:
            continue
        e = results[key]
        print(f"Extraction: {e['function']} on a {e['page_bytes'] / 1000:.0f} KB article ({e['text_chars']:,} "
              f"characters of text); the checker's fingerprint of that text: {e['fingerprint_ms']:.1f} ms (median of 10)")
        print(f"  {'text of a 200 KB article, ms':34} {e['median_ms']:8.1f}   "
              f"{verdict(e['median_ms'], TARGETS['extract'], True)}")
    if "search" in results:
        s = results["search"]
        print(f"Search: {s['path']} over {s['bookmarks']:,} bookmarks (SQLite, Flask test client, in-process); "
              f"p95 {s['p95_ms']:.1f} ms, CPU {s['cpu_ms']:.1f} ms per request; load average {'/'.join(f'{x:.2f}' for x in s['load'])}")
        print(f"  with a saved page ({PAGE_TEXT_CHARS:,} characters of text) for every bookmark: the search covers "
              f"their text too ({s['page_text_rows']:,} added this run)")
        print(f"  {'search p50, ms':34} {s['p50_ms']:8.1f}   {verdict(s['p50_ms'], TARGETS['search'], True)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="checks,extract,search", help="any of checks,extract,search")
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--per-host", type=int, default=10)
    parser.add_argument("--gap", type=float, default=2.0, help="[links] per_host_gap, whole seconds (default 2)")
    parser.add_argument("--concurrency", type=int, default=8, help="[links] check_concurrency (default 8)")
    parser.add_argument("--timeout", type=float, default=600.0, help="most seconds the checks may take")
    parser.add_argument("--extract", default=EXTRACT, help="module:function turning (bytes, content type) into text")
    parser.add_argument("--requests", type=int, default=200, help="timed search requests")
    args = parser.parse_args(argv)
    wanted = set(args.only.split(","))
    OUT.mkdir(parents=True, exist_ok=True)
    results: dict = {}
    if "checks" in wanted:
        results["checks"] = run_checks(args)
    if "extract" in wanted:
        results["extract"] = run_extract(args)
        results["extract_copy"] = run_extract(argparse.Namespace(**{**vars(args), "extract": COPY_EXTRACT}))
    if "search" in wanted:
        results["search"] = run_search(args)
    report(results)
    (OUT / "links.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
