"""Pinboard API benchmark: /v1/ methods on the seeded instance (100,000 bookmarks), against targets.

    .venv/bin/python bench/pinboard.py                 # seed (or reuse) bench/out/sqlite, measure, report
    .venv/bin/python bench/pinboard.py --database-url postgresql://postgres@127.0.0.1:5432/linkblog_bench

Sync apps call ``posts/update`` often, ``posts/recent`` for what is new and ``posts/all`` once for everything:
each method is timed through the app in this process (Flask's test client: the view, the queries and the
document, no HTTP), sequentially after a warm-up, and ``posts/all`` also reports the peak memory its answer
takes while it is sent (tracemalloc). A Pinboard token is made for the run and revoked at the end. Only the database is
touched; the report says which targets were met, and the script exits 0 either way.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import seed  # noqa: E402

sys.path.insert(0, str(seed.ROOT))

from linkblog import create_app, tokens  # noqa: E402
from linkblog.config import load_config  # noqa: E402

ALL_MEMORY_TARGET_MB = 20  # posts/all of 100,000 bookmarks (72 MB of JSON), streamed: the peak while sending


def targets(day: str, host_url: str) -> list[dict]:
    """name, method, parameters, repetitions, p50 target (ms)."""
    return [
        {"name": "posts/update", "method": "posts/update", "params": {}, "n": 50, "p50": 5},
        {"name": "posts/recent (15)", "method": "posts/recent", "params": {}, "n": 50, "p50": 15},
        {"name": "posts/recent (100, tag)", "method": "posts/recent", "params": {"count": "100", "tag": "design"},
         "n": 20, "p50": 60},
        {"name": "posts/get (a day)", "method": "posts/get", "params": {"dt": day}, "n": 30, "p50": 15},
        {"name": "posts/dates", "method": "posts/dates", "params": {}, "n": 5, "p50": 400},
        {"name": "tags/get", "method": "tags/get", "params": {}, "n": 10, "p50": 200},
        {"name": "posts/suggest", "method": "posts/suggest", "params": {"url": host_url}, "n": 20,
         "p50": 100},
        {"name": "posts/all (JSON)", "method": "posts/all", "params": {}, "n": 2, "p50": 8000},
        {"name": "posts/all (XML)", "method": "posts/all", "params": {"format": "xml"}, "n": 2, "p50": 8000},
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--reseed", action="store_true")
    args = parser.parse_args(argv)
    info = seed.ensure_seeded(seed.default_dir(None, args.database_url), database_url=args.database_url,
                              reseed=args.reseed)
    config = load_config(info["config"], environ={})
    app = create_app(config)
    engine = app.extensions["linkblog"].engine
    name = f"bench-{int(time.time())}"
    with engine.begin() as conn:
        secret = tokens.create_token(conn, name, pinboard=True)
        user = conn.exec_driver_sql("SELECT username FROM owner").scalar_one()
    client = app.test_client()
    auth = f"{user}:{secret}"

    def call(method: str, params: dict) -> tuple[float, int]:
        """Milliseconds until the last byte of the answer, and its size (read piece by piece, as a server
        would send it: posts/all is streamed)."""
        started = time.perf_counter()
        response = client.get(f"/v1/{method}", query_string={"auth_token": auth, "format": "json", **params},
                              buffered=False)
        assert response.status_code == 200, response.status
        size = sum(len(piece) for piece in response.iter_encoded())
        elapsed = (time.perf_counter() - started) * 1000
        response.close()
        return elapsed, size

    newest = client.get("/v1/posts/get", query_string={"auth_token": auth, "format": "json"}).get_json(force=True)
    day = newest["date"][:10]
    host_url = newest["posts"][0]["href"].split("/", 3)[:3]
    host_url = "/".join(host_url) + "/a-page-not-saved-yet"  # a known host: its tags are recommended
    rows, met = [], 0
    try:
        for target in targets(day, host_url):
            call(target["method"], target["params"])  # warm-up
            timings = [call(target["method"], target["params"]) for _ in range(target["n"])]
            p50 = statistics.median(t for t, _ in timings)
            ok = p50 <= target["p50"]
            met += ok
            rows.append((target["name"], p50, target["p50"], timings[0][1], ok))
        tracemalloc.start()
        call("posts/all", {})
        peak_mb = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
    finally:
        with engine.begin() as conn:
            tokens.revoke_token(conn, name)
        engine.dispose()
    print(f"\n/v1/ on {info['bookmarks']:,} bookmarks ({'PostgreSQL' if args.database_url else 'SQLite'}), "
          "through the app in-process:")
    print(f"{'method':28} {'p50 ms':>9} {'target':>8} {'bytes':>12}")
    for label, p50, target_ms, size, ok in rows:
        print(f"{label:28} {p50:9.1f} {target_ms:8} {size:12,}  {'ok' if ok else 'MISSED'}")
    memory_ok = peak_mb <= ALL_MEMORY_TARGET_MB
    print(f"posts/all peak memory: {peak_mb:.0f} MB (target {ALL_MEMORY_TARGET_MB} MB) "
          f"{'ok' if memory_ok else 'MISSED'}")
    print(f"{met + memory_ok} of {len(rows) + 1} targets met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
