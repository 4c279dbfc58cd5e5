"""Seed a benchmark instance: 100,000 bookmarks and 200 weeknotes, deterministic, reused across runs.

    .venv/bin/python bench/seed.py                       # SQLite in bench/out/sqlite (reused if seeded)
    .venv/bin/python bench/seed.py --reseed              # start again from an empty instance
    .venv/bin/python bench/seed.py --database-url postgresql://postgres@127.0.0.1:5432/linkblog_bench

The instance is created with the real CLI (``linkblog init``); rows then go in with SQLAlchemy Core
``executemany`` batches in a few transactions (the FTS5 triggers / the generated tsvector fill the search
index as they go). ``seed.json`` in the instance folder records what was seeded and the URLs to measure.
"""
from __future__ import annotations

import argparse
import bisect
import itertools
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, func, insert, select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from linkblog.db import make_engine  # noqa: E402
from linkblog.markup import render_markdown  # noqa: E402
from linkblog.models import Bookmark, BookmarkTag, Tag, Weeknote  # noqa: E402

B, T, BT, W = Bookmark.__table__, Tag.__table__, BookmarkTag.__table__, Weeknote.__table__
VENV_BIN = ROOT / ".venv" / "bin"
DEFAULT_DIR = ROOT / "bench" / "out" / "sqlite"
DEFAULT_PORT = 8765
SEED = 20261122
SEED_VERSION = 2  # bump when the generated data changes, so old instances are reseeded
END = datetime(2026, 11, 15, 21, 0, 0)  # newest bookmark; fixed so every run builds the same data
SPAN = timedelta(days=4 * 365)
BATCH = 5_000
PER_TRANSACTION = 25_000
VISIBILITIES = (("public", 85), ("unlisted", 5), ("followers", 5), ("private", 5))
SEARCH_WORD = "design"  # a common content word; measured as /search?q=design
TAG_RANK = 50  # the tag page measured is the 50th most used public tag

# Ordered roughly by how often they should appear (Zipf over the position).
WORDS = """
the of and to a in for is on with how that design from data web your you an why are by at it this
what new open we as or can be code python software not more about my all guide using systems notes
build performance first better simple small one into time make people best language work way tools
database search user years out should learning source api javascript rust css html server writing
modern history future why part two security design browser network internet go model models linux
privacy team long read inside programming type types testing test free old engineering developer
developers problem problems memory state machine fast slow things world life lessons story stories
library libraries framework frameworks static dynamic page pages site sites mobile cloud distributed
sql sqlite postgres query queries index indexes cache caching storage file files format text unicode
markdown feeds feed blog blogging reading writer writers craft notes note essay essays review reviews
science research paper papers study math mathematics physics climate energy city cities urban maps
music audio video photo photos camera film books book reading library archive archives museum art
typography color colour layout grid responsive accessible accessibility interface interfaces product
products startup business company companies market money economics policy law government public
private social media community communities federation protocol protocols activitypub mastodon email
spam identity authentication password passwords encryption crypto key keys signature trust attack
bug bugs debugging error errors failure incident outage postmortem reliability scale scaling load
latency throughput benchmark benchmarks profiling compiler compilers interpreter runtime garbage
collection concurrency parallel async threads process processes kernel shell terminal editor vim
emacs git version control review deploy deployment container containers docker kubernetes config
configuration yaml json toml xml schema migration migrations backup backups restore recovery
hardware chip chips cpu gpu battery keyboard display screen phone laptop repair right
walking cycling trains transit travel food coffee cooking garden gardening health sleep focus habit
habits attention time management meetings remote office career hiring interview manager managers
culture values ethics history ancient medieval century war peace language languages translation
learning teaching school university students education children parents family friends home house
""".split()
WORDS = list(dict.fromkeys(WORDS))  # unique, in order
WORDS.remove("design")
WORDS.insert(150, "design")  # about 7% of bookmarks mention it: a common, not a universal, word
STOPWORDS = set("the of and to a in for is on with how that from your you an why are by at it this what "
                "we as or can be not more about my all into one two out should".split())
TLDS = ["com"] * 10 + ["org"] * 4 + ["net"] * 2 + ["io"] * 2 + ["dev", "blog", "co.uk", "de", "fr", "nl", "ca"]
HOST_FORMS = ["{a}{b}.{t}", "{a}.{t}", "blog.{a}{b}.{t}", "www.{a}-{b}.{t}", "{a}.{b}.{t}", "{a}{b}{n}.{t}"]
PATH_FORMS = ["/{y}/{m:02d}/{slug}", "/posts/{slug}", "/blog/{slug}/", "/articles/{n}/{slug}", "/{slug}.html",
              "/wiki/{Word}", "/{a}/{b}", "/p/{n}", "/news/{y}/{slug}", "/docs/{a}/{slug}", "/watch?v={token}",
              "/item?id={n}"]


class Zipf:
    """Pick items with probability ~ 1 / rank**s."""

    def __init__(self, items: list, s: float, rng: random.Random):
        self.items = items
        self.cum = list(itertools.accumulate(1.0 / (r ** s) for r in range(1, len(items) + 1)))
        self.rng = rng

    def one(self):  # noqa: ANN201
        return self.items[bisect.bisect(self.cum, self.rng.random() * self.cum[-1])]

    def many(self, k: int) -> list:
        return self.rng.choices(self.items, cum_weights=self.cum, k=k)


def sentence(words: Zipf, rng: random.Random, length: int) -> str:
    """Prose-like whole words, at most ``length`` characters (a few fewer when the next word would not fit)."""
    out: list[str] = []
    size = -1
    while True:
        for w in words.many(12):
            if size + len(w) + 1 > length:
                text_ = " ".join(out) or w[:length]
                return text_[:1].upper() + text_[1:]
            out.append(w)
            size += len(w) + 1


def make_tags(rng: random.Random) -> list[str]:
    content = [w for w in WORDS if w not in STOPWORDS]
    names: list[str] = []
    seen: set[str] = set()
    for w in content:  # the real-looking single words are the popular ones
        if w not in seen:
            seen.add(w)
            names.append(w)
    while len(names) < 2000:
        a, b = rng.choice(content), rng.choice(content)
        form = rng.random()
        name = f"{a}-{b}" if form < 0.6 else (f"{a}.{b}" if form < 0.7 else f"{a}{rng.randint(2, 99)}")
        if name not in seen and a != b and len(name) <= 64:
            seen.add(name)
            names.append(name)
    head, tail = names[:60], names[60:]
    rng.shuffle(tail)  # compound tags mix with the less common single words in the long tail
    return head + tail


def make_hosts(rng: random.Random) -> list[str]:
    content = [w for w in WORDS if w not in STOPWORDS and len(w) <= 10]
    hosts: list[str] = []
    seen: set[str] = set()
    while len(hosts) < 5000:
        host = rng.choice(HOST_FORMS).format(a=rng.choice(content), b=rng.choice(content), t=rng.choice(TLDS),
                                             n=rng.randint(1, 999))
        if host not in seen:
            seen.add(host)
            hosts.append(host)
    return hosts


def make_annotation(words: Zipf, hosts: list[str], rng: random.Random) -> str:
    """0-800 characters of Markdown-ish prose: paragraphs, emphasis, links, code, lists, quotes."""
    if rng.random() < 0.2:
        return ""
    target = rng.randint(30, 800)
    parts: list[str] = []
    size = 0
    while size < target:
        kind = rng.random()
        n = min(target - size, rng.randint(60, 300))
        if kind < 0.55:
            para = sentence(words, rng, n)
            tokens = para.split(" ")
            if len(tokens) > 6 and rng.random() < 0.5:
                i = rng.randrange(len(tokens) - 2)
                tokens[i] = f"**{tokens[i]}**" if rng.random() < 0.5 else f"*{tokens[i]}*"
            if len(tokens) > 6 and rng.random() < 0.4:
                i = rng.randrange(len(tokens) - 3)
                tokens[i] = f"[{tokens[i]} {tokens[i + 1]}](https://{rng.choice(hosts)}/{tokens[i + 2].lower()})"
                del tokens[i + 1:i + 3]
            if len(tokens) > 4 and rng.random() < 0.25:
                i = rng.randrange(len(tokens))
                tokens[i] = f"`{tokens[i].lower()}()`"
            part = " ".join(tokens) + "."
        elif kind < 0.75:
            part = "\n".join(f"- {sentence(words, rng, rng.randint(15, 70))}" for _ in range(rng.randint(2, 5)))
        elif kind < 0.88:
            part = "> " + sentence(words, rng, n) + "."
        else:
            part = f"## {sentence(words, rng, rng.randint(10, 40))}\n\n{sentence(words, rng, n)}."
        parts.append(part)
        size += len(part) + 2
    return "\n\n".join(parts)[:800].rstrip()


def iso_week(moment: date) -> str:
    iso = moment.isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


def generate(n_bookmarks: int, n_weeknotes: int):  # noqa: ANN201
    """Every row, in memory (about 150 MB for 100,000 bookmarks)."""
    rng = random.Random(SEED)
    words = Zipf(WORDS, 1.0, rng)
    tag_names = make_tags(rng)
    tag_pick = Zipf(list(range(1, len(tag_names) + 1)), 1.0, rng)
    hosts = make_hosts(rng)
    host_pick = Zipf(hosts, 0.9, rng)
    pool_src = [make_annotation(words, hosts, rng) for _ in range(400)]
    pool = [(src, render_markdown(src)) for src in pool_src]
    span_s = int(SPAN.total_seconds())
    start = END - SPAN
    offsets = sorted(rng.randrange(span_s) for _ in range(n_bookmarks - 1)) + [span_s]
    urls: set[str] = set()
    bookmarks: list[dict] = []
    links: list[dict] = []
    vis_names = [v for v, _ in VISIBILITIES]
    vis_weights = [w for _, w in VISIBILITIES]
    for i, offset in enumerate(offsets, start=1):
        created = start + timedelta(seconds=offset)
        title = sentence(words, rng, rng.randint(28, 120))
        host = host_pick.one()
        slug_words = [w for w in title.lower().split() if w.isalnum()][:6] or ["page"]
        path = rng.choice(PATH_FORMS).format(y=created.year, m=created.month, slug="-".join(slug_words),
                                             Word=slug_words[0].capitalize(), a=slug_words[0],
                                             b=slug_words[-1], n=rng.randint(1, 999_999),
                                             token=f"{rng.getrandbits(40):010x}")
        url = f"https://{host}{path}"
        if url in urls:
            url = f"{url}{'&' if '?' in url else '?'}n={i}"
        urls.add(url)
        annotation, annotation_html = pool[rng.randrange(len(pool))]
        quote = sentence(words, rng, rng.randint(56, 399)) + "." if rng.random() < 0.3 else ""
        tags: list[int] = []
        for _ in range(rng.randint(1, 6)):
            t = tag_pick.one()
            if t not in tags:
                tags.append(t)
        visibility = rng.choices(vis_names, vis_weights)[0]
        updated = created + timedelta(hours=rng.randint(1, 2000)) if rng.random() < 0.1 else created
        bookmarks.append({"id": i, "url": url, "title": title, "annotation": annotation,
                          "annotation_html": annotation_html, "quote": quote,
                          "tags_text": " ".join(tag_names[t - 1] for t in tags), "visibility": visibility,
                          "created_at": created, "updated_at": min(updated, END)})
        links += [{"bookmark_id": i, "tag_id": t, "listed": visibility == "public", "created_at": created}
                  for t in tags]
    weeknotes = make_weeknotes(n_weeknotes, bookmarks, words, rng)
    tags = [{"id": i, "name": name} for i, name in enumerate(tag_names, start=1)]
    return tags, bookmarks, links, weeknotes


def make_weeknotes(count: int, bookmarks: list[dict], words: Zipf, rng: random.Random) -> list[dict]:
    last_monday = END.date() - timedelta(days=END.date().weekday())
    by_week: dict[str, list[dict]] = {}
    for b in bookmarks:
        if b["visibility"] == "public":
            by_week.setdefault(iso_week(b["created_at"].date()), []).append(b)
    notes = []
    for k in range(count):
        monday = last_monday - timedelta(weeks=count - 1 - k)
        week = iso_week(monday)
        target = rng.randint(1000, 5000)
        parts = [sentence(words, rng, rng.randint(150, 500)) + "."]
        links = by_week.get(week, [])[:12]
        if links:
            lines = ["## Links this week", ""]
            for b in links:
                label = b["title"].replace("[", "\\[").replace("]", "\\]")
                lines.append(f"- [{label}](<{b['url']}>)")
            parts.append("\n".join(lines))
        while sum(len(p) + 2 for p in parts) < target:
            if rng.random() < 0.3:
                parts.append(f"## {sentence(words, rng, rng.randint(10, 40))}")
            parts.append(sentence(words, rng, rng.randint(200, 700)) + ".")
        body = "\n\n".join(parts)[:5000].rstrip() + "\n"
        published = datetime.combine(monday + timedelta(days=6), datetime.min.time()) + timedelta(hours=18)
        notes.append({"week": week, "title": f"Weeknote {week}: {sentence(words, rng, rng.randint(10, 50))}",
                      "body": body, "body_html": render_markdown(body), "status": "published",
                      "visibility": "public", "created_at": published - timedelta(days=6),
                      "updated_at": published, "published_at": published})
    return notes


def _chunks(rows: list[dict], size: int):  # noqa: ANN202
    for i in range(0, len(rows), size):
        yield rows[i:i + size]


def insert_all(engine, tags, bookmarks, links, weeknotes) -> None:  # noqa: ANN001
    """executemany batches of BATCH rows; one transaction per PER_TRANSACTION bookmarks."""
    with engine.begin() as conn:
        conn.execute(insert(T), tags)
        conn.execute(insert(W), weeknotes)
    links_by_bookmark = iter(links)
    pending = next(links_by_bookmark, None)
    for block in _chunks(bookmarks, PER_TRANSACTION):
        last_id = block[-1]["id"]
        block_links = []
        while pending is not None and pending["bookmark_id"] <= last_id:
            block_links.append(pending)
            pending = next(links_by_bookmark, None)
        with engine.begin() as conn:
            for batch in _chunks(block, BATCH):
                conn.execute(insert(B), batch)
            for batch in _chunks(block_links, BATCH * 3):
                conn.execute(insert(BT), batch)
        print(f"  {last_id:,} bookmarks", flush=True)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            for table in ("bookmarks", "tags", "weeknotes"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                  f"(SELECT max(id) FROM {table}))"))


def _run_cli(args: list[str], env: dict[str, str]) -> str:
    result = subprocess.run([str(VENV_BIN / "linkblog"), *args], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"linkblog {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def _pg_admin_url(url: str) -> tuple[str, str]:
    url = re.sub(r"^postgresql(\+psycopg)?://", "postgresql+psycopg://", url)
    base, name = url.rsplit("/", 1)
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
        raise SystemExit(f"database name {name!r}: use lower-case letters, digits and underscores")
    return base + "/postgres", name


def _drop_pg_database(url: str) -> None:
    admin_url, name = _pg_admin_url(url)
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _create_pg_database(url: str) -> None:
    admin_url, name = _pg_admin_url(url)
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def choose_targets(engine) -> dict:  # noqa: ANN001
    """The URLs the web benchmark measures, picked from the data itself."""
    with engine.connect() as conn:
        count = func.count(BT.c.bookmark_id)
        tag_rows = conn.execute(select(T.c.name, count).join(BT, BT.c.tag_id == T.c.id)
                                .where(BT.c.listed.is_(True)).group_by(T.c.name)
                                .order_by(count.desc(), T.c.name).limit(TAG_RANK)).all()
        tag, tag_total = tag_rows[-1]
        typical = (B.c.visibility == "public", B.c.quote != "", B.c.annotation != "")
        middle = conn.execute(select(func.count()).where(*typical)).scalar_one() // 2
        permalink = conn.execute(select(B.c.id).where(*typical).order_by(B.c.id).offset(middle)
                                 .limit(1)).scalar_one()
        if engine.dialect.name == "sqlite":
            hits = conn.execute(text("SELECT count(*) FROM bookmarks_fts WHERE bookmarks_fts MATCH :q"),
                                {"q": SEARCH_WORD}).scalar_one()
        else:
            hits = conn.execute(text("SELECT count(*) FROM bookmarks WHERE search_vector @@ "
                                     "plainto_tsquery('english', :q)"), {"q": SEARCH_WORD}).scalar_one()
    return {"tag": tag, "tag_rank": TAG_RANK, "tag_public_count": tag_total, "permalink_id": permalink,
            "search_word": SEARCH_WORD, "search_matches_all_visibilities": hits}


def ensure_seeded(directory: Path = DEFAULT_DIR, port: int = DEFAULT_PORT, database_url: str | None = None,
                  reseed: bool = False, bookmarks: int = 100_000, weeknotes: int = 200) -> dict:
    """Create and fill the instance unless ``seed.json`` says it already holds this data; returns seed.json."""
    directory = directory.resolve()
    marker = directory / "seed.json"
    wanted = {"version": SEED_VERSION, "seed": SEED, "bookmarks": bookmarks, "weeknotes": weeknotes,
              "database_url": database_url or "", "base_url": f"http://127.0.0.1:{port}"}
    if marker.exists() and not reseed:
        info = json.loads(marker.read_text())
        if all(info.get(k) == v for k, v in wanted.items()):
            print(f"Reusing the seeded instance in {directory} (--reseed to rebuild it)")
            env = {k: v for k, v in os.environ.items() if not k.startswith("LINKBLOG_")}
            if database_url:
                env["LINKBLOG_DATABASE_URL"] = database_url
            # A newer linkblog may have added migrations since it was seeded: upgrade, as an owner would.
            print(_run_cli(["--config", str(directory / "config.toml"), "db", "upgrade"], env).strip())
            return info
        print(f"{marker} describes other data; reseeding")
    if directory.exists():
        shutil.rmtree(directory)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINKBLOG_")}
    if database_url:
        _drop_pg_database(database_url)
        _create_pg_database(database_url)
        env["LINKBLOG_DATABASE_URL"] = database_url
    started = time.perf_counter()
    _run_cli(["init", "--dir", str(directory), "--base-url", wanted["base_url"]], env)
    config_file = directory / "config.toml"
    if database_url:
        print(_run_cli(["--config", str(config_file), "db", "upgrade"], env).strip())
        with config_file.open("a", encoding="utf-8") as handle:
            handle.write(f'\n[database]\nurl = "{database_url}"\n')
    # Quieter logs for the benchmark server; everything else stays at its default.
    text_ = config_file.read_text(encoding="utf-8")
    config_file.write_text(text_ + '\n[logging]\nlevel = "WARNING"\n', encoding="utf-8")
    db_url = database_url or f"sqlite:///{directory / 'linkblog.db'}"
    init_s = time.perf_counter() - started

    print(f"Generating {bookmarks:,} bookmarks and {weeknotes} weeknotes (seed {SEED}) ...", flush=True)
    t0 = time.perf_counter()
    tags, bookmark_rows, links, weeknote_rows = generate(bookmarks, weeknotes)
    gen_s = time.perf_counter() - t0
    print(f"  generated in {gen_s:.1f} s: {len(tags):,} tags, {len(links):,} bookmark_tags rows", flush=True)

    engine = make_engine(db_url)
    t0 = time.perf_counter()
    insert_all(engine, tags, bookmark_rows, links, weeknote_rows)
    insert_s = time.perf_counter() - t0
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    if engine.dialect.name == "postgresql":  # what autovacuum would soon do on a live server
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    targets = choose_targets(engine)
    engine.dispose()
    total_s = time.perf_counter() - started
    size = ""
    if not database_url:
        size = f", database {(directory / 'linkblog.db').stat().st_size / 1e6:.0f} MB"
    print(f"Seeding took {total_s:.1f} s (init {init_s:.1f} s, generating {gen_s:.1f} s, "
          f"inserting with the search index {insert_s:.1f} s){size}")
    info = {**wanted, **targets, "config": str(config_file), "seconds": round(total_s, 1),
            "insert_seconds": round(insert_s, 1)}
    marker.write_text(json.dumps(info, indent=2) + "\n")
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", type=Path, default=None,
                        help="instance folder (default bench/out/sqlite, or bench/out/<db name> on PostgreSQL)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port in the instance's base_url")
    parser.add_argument("--database-url", default=None,
                        help="postgresql://user@127.0.0.1:5432/NEWDB: (re)create NEWDB and seed it instead of SQLite")
    parser.add_argument("--reseed", action="store_true", help="rebuild even if a seeded instance exists")
    parser.add_argument("--bookmarks", type=int, default=100_000)
    parser.add_argument("--weeknotes", type=int, default=200)
    args = parser.parse_args(argv)
    info = ensure_seeded(default_dir(args.dir, args.database_url), args.port, args.database_url, args.reseed,
                         args.bookmarks, args.weeknotes)
    print(json.dumps({k: info[k] for k in ("config", "tag", "tag_public_count", "permalink_id", "search_word",
                                            "search_matches_all_visibilities")}, indent=2))
    return 0


def default_dir(directory: Path | None, database_url: str | None) -> Path:
    if directory is not None:
        return directory
    if database_url:
        return ROOT / "bench" / "out" / ("pg-" + database_url.rsplit("/", 1)[1])
    return DEFAULT_DIR


if __name__ == "__main__":
    sys.exit(main())
