"""Page-copy benchmark: search with saved pages, the worker's claim over a big import queue, reading a page.

    .venv/bin/python bench/copies.py                  # SQLite under bench/out/copies
    .venv/bin/python bench/copies.py --count 50000
    .venv/bin/python bench/copies.py --database-url postgresql://postgres@127.0.0.1:5432/linkblog_bench_copies

A new database (dropped and made again), ``--count`` bookmarks each with a done copy of about 3,000 characters
(fixed seed), and as many imported bookmarks waiting for their copy over 2,000 hosts. Then, each the median of
repeated runs: ``/search``'s queries for a word only saved pages hold (the second tier, counted too) and for a
word in titles; one ``jobs.claim`` round over the queue; reading one article-sized page in process and in the
worker's child process (``links/sandbox``). Nothing is fetched: no network at all.
"""
from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from linkblog.config import load_config  # noqa: E402
from linkblog.db import bulk_insert, make_engine, utcnow  # noqa: E402
from linkblog.links import jobs, sandbox  # noqa: E402
from linkblog.links.copies import compress  # noqa: E402
from linkblog.links.extract import html_page  # noqa: E402
from linkblog.migrate import upgrade  # noqa: E402
from linkblog.models import BOOKMARKS, PAGE_COPIES  # noqa: E402
from linkblog.queries.search import count_with_pages, parse, search  # noqa: E402

OUT = ROOT / "bench" / "out" / "copies"
SEED = 20261207
TARGET_SEARCH_MS = 50.0
TARGET_CLAIM_MS = 50.0
TARGET_READ_MS = 1000.0
WORDS = ("the of and to a in for is on with how design data web open code python software notes guide systems "
         "performance language tools database search server writing history security browser network privacy "
         "testing memory machine fast library framework static page site cloud sqlite postgres query index cache "
         "storage file format text unicode rust css html api learning source heron reeds river").split()


def _words(rng: random.Random, count: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(count))


def _median_ms(run, times: int) -> float:  # noqa: ANN001
    samples = []
    for _ in range(times):
        start = time.perf_counter()
        run()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def _database(url: str | None) -> str:
    if url is None:
        shutil.rmtree(OUT, ignore_errors=True)
        OUT.mkdir(parents=True)
        return f"sqlite:///{OUT / 'copies.db'}"
    from sqlalchemy import create_engine

    base, _, name = url.rpartition("/")
    admin = create_engine(base.replace("postgresql://", "postgresql+psycopg://") + "/postgres",
                          isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url


def seed(engine, count: int) -> None:  # noqa: ANN001
    rng = random.Random(SEED)
    now = utcnow()
    for start in range(0, 2 * count, 5000):
        with engine.begin() as conn:
            rows = [{"url": f"https://site{rng.randrange(2000)}.example/{n}", "title": _words(rng, 6).capitalize(),
                     "annotation": _words(rng, 20), "annotation_html": "", "quote": "", "tags_text": "",
                     "visibility": "public" if rng.random() < 0.9 else "private", "toread": False,
                     "created_at": now - timedelta(minutes=n), "updated_at": now}
                    for n in range(start, min(start + 5000, 2 * count))]
            bulk_insert(conn, BOOKMARKS, rows)
    with engine.begin() as conn:
        ids = [row.id for row in conn.execute(text("SELECT id FROM bookmarks ORDER BY id"))]
    done, waiting = set(ids[:count]), ids[count:]
    for start in range(0, len(ids), 2000):
        copies = []
        for bookmark_id in ids[start:start + 2000]:
            finished = bookmark_id in done
            page = _words(rng, 450) + (" zanzibar" if rng.random() < 0.05 else "") if finished else ""
            copies.append({"bookmark_id": bookmark_id, "state": "done" if finished else "queued",
                           "from_import": not finished, "host": f"site{bookmark_id % 2000}.example", "attempts": 0,
                           "next_attempt_at": now - timedelta(seconds=1), "claimed_until": None, "reason": "",
                           "readers": None, "final_url": "", "status": 200 if finished else None,
                           "content_type": "text/html", "title": "", "description": "", "site_name": "",
                           "canonical_url": "", "language": "", "favicon": "",
                           "html_z": compress(f"<p>{page}</p>") if finished else None, "text": page,
                           "fetched_at": now if finished else None, "created_at": now})
        with engine.begin() as conn:
            bulk_insert(conn, PAGE_COPIES, copies)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    assert len(waiting) == count


def article(rng: random.Random) -> bytes:
    paragraphs = "".join(f"<p>{_words(rng, 80)}. <a href='/more/{n}'>{_words(rng, 3)}</a></p>" for n in range(60))
    chrome = "".join(f"<li><a href='/nav/{n}'>{_words(rng, 2)}</a></li>" for n in range(200))
    return (f"<!doctype html><html lang=en><head><title>{_words(rng, 6)}</title><script>{'x=1;' * 5000}</script>"
            f"</head><body><nav><ul>{chrome}</ul></nav><main><article><h1>Title</h1>{paragraphs}</article></main>"
            f"<footer>{_words(rng, 50)}</footer></body></html>").encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    url = _database(args.database_url)
    config = load_config(None, environ={}, overrides={("site", "base_url"): "http://127.0.0.1:8765",
                                                       ("security", "secret_key"): "b" * 40,
                                                       ("database", "url"): url})
    engine = make_engine(url)
    upgrade(engine)
    started = time.perf_counter()
    seed(engine, args.count)
    print(f"seeded {args.count:,} copies and {args.count:,} queued imports in {time.perf_counter() - started:.1f} s "
          f"({engine.dialect.name})")
    results = []
    with engine.connect() as conn:
        for word, what in (("zanzibar", "a word only saved pages hold (5% of them)"),
                           ("heron", "a word in titles and pages")):
            query = parse(word)
            ms = _median_ms(lambda: (search(conn, query, owner=False, size=20, readers_see_copies=True),
                                     count_with_pages(conn, query, owner=False, readers_see_copies=True)), 15)
            results.append((f"search + count, {what}", ms, TARGET_SEARCH_MS))
    ms = statistics.median(_claim_and_release(engine, config) for _ in range(9))
    results.append((f"one claim round over {args.count:,} queued imports", ms, TARGET_CLAIM_MS))
    page = article(random.Random(SEED))
    ms = _median_ms(lambda: html_page(page, "text/html", "https://a.example/", 200_000), 5)
    results.append((f"reading a {len(page) // 1024} KiB article in process", ms, TARGET_READ_MS))
    sandbox.read_page("text/html", page, "text/html", "https://a.example/", 200_000, 60)  # starts the forkserver
    ms = _median_ms(lambda: sandbox.read_page("text/html", page, "text/html", "https://a.example/", 200_000, 60), 5)
    results.append(("the same in the worker's child process", ms, TARGET_READ_MS))
    engine.dispose()
    print(f"{'what':<62} {'median':>10} {'target':>10}")
    for what, ms, target in results:
        print(f"{what:<62} {ms:>8.1f} ms {target:>7.0f} ms  {'ok' if ms <= target else 'OVER'}")


def _claim_and_release(engine, config) -> float:  # noqa: ANN001
    """Milliseconds of one claim round (4 fetches); then the rows and hosts are put back, untimed."""
    now = utcnow()
    start = time.perf_counter()
    claimed = jobs.claim(engine, config, now, 4)
    took = (time.perf_counter() - start) * 1000
    with engine.begin() as conn:  # put them back, so every round measures the same queue
        conn.execute(text("UPDATE page_copies SET claimed_until = NULL WHERE claimed_until IS NOT NULL"))
        conn.execute(text("UPDATE copy_hosts SET busy_until = NULL, next_at = :t"), {"t": now - timedelta(days=1)})
    assert claimed
    return took


if __name__ == "__main__":
    main()
