"""Backup and restore benchmark: 100,000 bookmarks through ``linkblog export --backup`` and ``import --backup``.

    .venv/bin/python bench/backup.py                 # SQLite: the seeded bench/out/sqlite (bench/seed.py)
    .venv/bin/python bench/backup.py --repeat 3      # report the fastest of three runs of each command
    .venv/bin/python bench/backup.py --database-url postgresql://postgres@127.0.0.1:5432/linkblog_bench

The source is the instance ``bench/seed.py`` builds (100,000 bookmarks, 2,000 tags, 200 weeknotes; reused when
already seeded). The real CLI runs as child processes, as an owner would: ``linkblog export --backup FILE
--include-keys``, then, into a fresh instance (``linkblog init``; with ``--database-url`` a second database named
``<name>_restore``, dropped and created again), ``linkblog import --backup FILE``. Wall time, CPU time and the
child's peak RSS (VmHWM, sampled from /proc) are printed beside their targets; then the restored instance is
exported again and must give the same bytes (what the README promises).
"""
from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import seed  # noqa: E402
import transfer  # noqa: E402

ROOT = seed.ROOT
OUT = ROOT / "bench" / "out" / "backup"
BOOKMARKS = 100_000
TARGET_EXPORT_S = 10.0
TARGET_RESTORE_S = {"sqlite": 30.0, "postgresql": 30.0}
TARGET_RSS_MB = 100.0


def _digest(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def restore_target(database_url: str | None) -> tuple[Path, dict[str, str]]:
    """A new, empty instance made by the real ``linkblog init`` (and a new database on PostgreSQL)."""
    directory = OUT / "restored"
    shutil.rmtree(directory, ignore_errors=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINKBLOG_")}
    if database_url:
        seed._drop_pg_database(database_url)
        seed._create_pg_database(database_url)
        env["LINKBLOG_DATABASE_URL"] = database_url
    subprocess.run([str(seed.VENV_BIN / "linkblog"), "init", "--dir", str(directory),
                    "--base-url", "http://127.0.0.1:8767"], env=env, check=True, capture_output=True)
    env["LINKBLOG_CONFIG"] = str(directory / "config.toml")
    return directory, env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=None,
                        help="postgresql://…/NAME: seed NAME (bench/seed.py) and restore into NAME_restore")
    parser.add_argument("--repeat", type=int, default=1, help="run each command N times, report the fastest")
    parser.add_argument("--no-check", action="store_true", help="skip the export of the restored instance")
    args = parser.parse_args(argv)
    if not 1 <= args.repeat <= 5:
        parser.error("keep --repeat between 1 and 5")
    restore_url = None
    if args.database_url:
        base, name = args.database_url.rsplit("/", 1)
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,54}", name):
            parser.error("database name: lower-case letters, digits and underscores, at most 55 of them")
        restore_url = f"{base}/{name}_restore"
    info = seed.ensure_seeded(seed.default_dir(None, args.database_url), database_url=args.database_url,
                              bookmarks=BOOKMARKS)
    OUT.mkdir(parents=True, exist_ok=True)
    backup_file = OUT / "linkblog.backup.json"
    source_env = {k: v for k, v in os.environ.items() if not k.startswith("LINKBLOG_")}
    source_env["LINKBLOG_CONFIG"] = info["config"]
    if args.database_url:
        source_env["LINKBLOG_DATABASE_URL"] = args.database_url
    dialect = "postgresql" if args.database_url else "sqlite"
    where = "PostgreSQL" if args.database_url else "SQLite"
    linkblog = str(seed.VENV_BIN / "linkblog")
    print(f"{BOOKMARKS:,} bookmarks, {where}, {os.cpu_count()} cores, load average before: "
          f"{os.getloadavg()[0]:.2f} (other work on the machine slows every wall time; CPU time is steadier)",
          flush=True)

    exports, restores = [], []
    for _ in range(args.repeat):
        exports.append(transfer.run([linkblog, "export", "--backup", str(backup_file), "--include-keys"],
                                    source_env))
        _, restore_env = restore_target(restore_url)
        restores.append(transfer.run([linkblog, "import", "--backup", str(backup_file)], restore_env))
    size_mb = backup_file.stat().st_size / 1e6
    failed = False
    seconds, rss, _, cpu = min(exports)
    print(f"backup  (export --backup)  {size_mb:6.1f} MB file: {seconds:6.2f} s (target ≤ {TARGET_EXPORT_S:g} s, "
          f"CPU {cpu:5.2f} s)  peak RSS {rss:6.1f} MB (target ≤ {TARGET_RSS_MB:g} MB)", flush=True)
    failed |= seconds > TARGET_EXPORT_S or rss > TARGET_RSS_MB
    seconds, rss, output, cpu = min(restores)
    print(f"restore (import --backup) into {where}: {seconds:6.2f} s (target ≤ {TARGET_RESTORE_S[dialect]:g} s, "
          f"CPU {cpu:5.2f} s)  peak RSS {rss:6.1f} MB (target ≤ {TARGET_RSS_MB:g} MB)", flush=True)
    summary = [line for line in output.splitlines() if line.strip()]
    print("        " + (summary[-1] if summary else "(no output)"))
    failed |= seconds > TARGET_RESTORE_S[dialect] or rss > TARGET_RSS_MB
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    if not args.no_check:
        again = OUT / "restored.backup.json"
        transfer.run([linkblog, "export", "--backup", str(again), "--include-keys"], restore_env)
        same = _digest(again) == _digest(backup_file)
        print(f"restored instance exported again: {'the same bytes' if same else 'DIFFERENT BYTES'} "
              f"(target: the same bytes)")
        failed |= not same
    print("all targets met" if not failed else "SOME TARGETS MISSED")
    return 0


if __name__ == "__main__":
    sys.exit(main())
