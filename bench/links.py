"""Link-check benchmark: how fast the checker gets through a batch of links, what a check costs, and that
nothing grows with the pages it reads.

    .venv/bin/python bench/links.py                  # 400 links on 5 loopback sites, report against the targets
    .venv/bin/python bench/links.py --links 2000

A real SQLite file in ``bench/out/links/`` holds the bookmarks; the sites are the test suite's loopback web
(``tests/support/testweb.py``, real HTTP servers on 127.0.0.x): 70 % pages of ~20 KB text (half with an ETag),
10 % permanent redirects, 10 % 404, 5 % HEAD refused (405), and 5 % on a fifth site that answers 429 with
Retry-After (after its first answer the rest of that host waits without a request). ``check_all`` runs twice
with no per-host gap (the politeness waits would measure nothing but the gap): the first pass reads every
text, the second is conditional (ETag pages answer 304 to the HEAD). Then the text resemblance of a 1 MB page
(the most ``check_max_bytes`` reads by default) against a fingerprint, and the peak RSS of the process.
Nothing leaves loopback. Exits 0 whether or not the targets are met.
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select  # noqa: E402

from linkblog.config import load_config  # noqa: E402
from linkblog.db import make_engine  # noqa: E402
from linkblog.federation.net import FetchClient  # noqa: E402
from linkblog.links.checks import Pacer, Rules, Run, check_all, link_policy  # noqa: E402
from linkblog.links.resemblance import fingerprint, resemblance  # noqa: E402
from linkblog.migrate import upgrade  # noqa: E402
from linkblog.models import BOOKMARKS, LINK_CHECKS  # noqa: E402
from tests.support.testweb import Page, Web, html, redirect  # noqa: E402

# The checker's own cost, on loopback: real checks wait for networks and for the per-host gap (10 s by default),
# so these only show that the checker (two requests, the text, one short write per link) is never the bottleneck.
TARGETS = {"first pass links/s": 50.0, "conditional pass links/s": 100.0, "resemblance of 1 MB ms": 300.0,
           "peak RSS MB": 120.0}
VOCABULARY = [f"word{i}" for i in range(5000)]


def text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(VOCABULARY) for _ in range(words))


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def populate(web: Web, count: int, rng: random.Random) -> list[str]:
    sites = [web.site() for _ in range(4)]
    busy = web.site()   # its 429 holds the whole host for the run (Retry-After): kept apart from the rest
    urls = []
    for n in range(count):
        site, kind = sites[n % 4], rng.random()
        path = f"/p{n}"
        if kind < 0.35:
            urls.append(site.page(path, Page(html(f"Page {n}", text(rng, 3000)))))
        elif kind < 0.70:
            body, tag = html(f"Page {n}", text(rng, 3000)), f'"v{n}"'
            urls.append(site.page(path, lambda seen, body=body, tag=tag: Page(status=304, headers={"ETag": tag})
                                  if seen.headers.get("if-none-match") == tag else Page(body, headers={"ETag": tag})))
        elif kind < 0.80:
            site.page(path + "-new", Page(html("Moved", text(rng, 300))))
            urls.append(site.page(path, redirect(path + "-new", 301)))
        elif kind < 0.90:
            urls.append(site.page(path, Page("gone", status=404)))
        elif kind < 0.95:
            body = html(f"No HEAD {n}", text(rng, 1000))
            urls.append(site.page(path, lambda seen, body=body: Page("no", status=405) if seen.method == "HEAD"
                                  else Page(body)))
        else:
            urls.append(busy.page(path, Page("slow down", status=429, headers={"Retry-After": "3600"})))
    return urls


def timed_pass(run: Run) -> tuple[int, float]:
    start = time.perf_counter()
    done = check_all(run)
    return done, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--links", type=int, default=400)
    args = parser.parse_args()
    out = ROOT / "bench" / "out" / "links"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    database = f"sqlite:///{out / 'links.db'}"
    config = load_config(None, environ={}, overrides={
        ("site", "base_url"): "http://bench.test", ("security", "secret_key"): "b" * 40, ("database", "url"): database,
        ("federation", "allow_private_addresses"): True, ("links", "per_host_gap"): 0})
    engine = make_engine(database)
    upgrade(engine)
    rng = random.Random(11)
    figures: dict[str, float] = {}
    with Web() as web:
        urls = populate(web, args.links, rng)
        with engine.begin() as conn:
            conn.execute(insert(BOOKMARKS), [{"url": url, "title": "t"} for url in urls])
        with FetchClient(link_policy(config)) as client:
            rules = Rules.of(config)
            first, seconds = timed_pass(Run(engine, client, rules, pacer=Pacer(0)))
            figures["first pass links/s"] = first / seconds
            requests_first = sum(len(site.requests) for site in web.sites)
            second, seconds = timed_pass(Run(engine, client, rules, pacer=Pacer(0)))
            figures["conditional pass links/s"] = second / seconds
            requests_second = sum(len(site.requests) for site in web.sites) - requests_first
        with engine.connect() as conn:
            states = dict(conn.execute(select(LINK_CHECKS.c.state, func.count()).group_by(LINK_CHECKS.c.state)).all())
            stored = conn.execute(select(func.max(func.length(LINK_CHECKS.c.fingerprint)))).scalar()
    page = text(rng, 150_000)   # about 1 MB of words
    reference = fingerprint(page)
    start = time.perf_counter()
    resemblance(page, reference)
    figures["resemblance of 1 MB ms"] = (time.perf_counter() - start) * 1000
    figures["peak RSS MB"] = peak_rss_mb()
    engine.dispose()

    print(f"{args.links} links on 5 loopback sites; load average {os.getloadavg()[0]:.2f}")
    print(f"states after the passes: {dict(sorted(states.items()))}; largest fingerprint stored: {stored} characters")
    print(f"requests: first pass {requests_first}, conditional pass {requests_second}")
    for name, value in figures.items():
        target = TARGETS[name]
        ok = value <= target if name.endswith(("ms", "MB")) else value >= target
        bound = "≤" if name.endswith(("ms", "MB")) else "≥"
        print(f"{name:28} {value:10.1f}   target {bound} {target:g}   {'ok' if ok else 'MISSED'}")


if __name__ == "__main__":
    main()
