"""A half-finished import leaves the database as it was: the real `linkblog import` process is SIGKILLed
mid-write, and its file-reading child process is interrupted, on SQLite and PostgreSQL."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from linkblog.db import make_engine
from linkblog.models import Bookmark
from linkblog.transfer.formats.netscape import parse_netscape
from linkblog.transfer.importer import store
from linkblog.transfer.reader_process import ReaderFailed, prepared_from_file


SCRIPT = Path(sys.executable).parent / "linkblog"
FIX = Path(__file__).parent / "fixtures" / "bookmarks"


def _big_netscape(path: Path, count: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write("<!DOCTYPE NETSCAPE-Bookmark-file-1>\n<DL><p>\n")
        for n in range(count):
            out.write(f'<DT><A HREF="https://example.org/page/{n}" ADD_DATE="{1500000000 + n}" TAGS="t{n % 50}">'
                      f"Page number {n}</A>\n<DD>An annotation with *some* words about page {n}.\n")
        out.write("</DL><p>\n")


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _count_and_search(url: str) -> tuple[int, int]:
    engine = make_engine(url)
    with engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(Bookmark)).scalar()
        if conn.dialect.name == "sqlite":
            indexed = conn.execute(text("SELECT count(*) FROM bookmarks_fts WHERE bookmarks_fts MATCH 'annotation'"))
        else:
            indexed = conn.execute(text("SELECT count(*) FROM bookmarks WHERE search_vector @@ "
                                        "plainto_tsquery('english', 'annotation')"))
        found = indexed.scalar()
    engine.dispose()
    return count, found


@pytest.mark.slow  # the real `linkblog import`, 40,000 bookmarks, three times
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process state from /proc")
def test_a_killed_import_leaves_the_database_as_it_was_and_can_be_run_again(instance, tmp_path):
    env = {**os.environ, **instance["env"]}
    env.pop("LINKBLOG_CONFIG", None)
    first = subprocess.run([str(SCRIPT), "--config", str(instance["config"]), "import",
                            str(FIX / "netscape/firefox-export.html")], env=env, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    before = _count_and_search(instance["url"])
    big = tmp_path / "big.html"
    _big_netscape(big, 40_000)

    proc = subprocess.Popen([str(SCRIPT), "--config", str(instance["config"]), "import", str(big)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Kill as soon as the command reports 5,000 of the 40,000 entries stored in its open transaction.
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if "5,000 entries stored" in line:
            break
    reader = _children(proc.pid)
    assert proc.poll() is None, f"the import finished before it could be killed: {seen}"
    assert reader, "the import did not start a reader process"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)

    assert _count_and_search(instance["url"]) == before
    # The orphaned reader notices its parent is gone and stops instead of waiting forever.
    gone_by = time.monotonic() + 15
    while time.monotonic() < gone_by and any(Path(f"/proc/{pid}").exists() and
                                             "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]
                                             for pid in reader):
        time.sleep(0.1)
    assert not any(Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]
                   for pid in reader)

    again = subprocess.run([str(SCRIPT), "--config", str(instance["config"]), "import", str(big)], env=env,
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert "40000 added, 0 merged, 0 skipped, 0 invalid" in again.stdout
    assert _count_and_search(instance["url"]) == (before[0] + 40_000, before[1] + 40_000)


def _dies(stream):  # noqa: ANN001, ANN202  (a parser whose process is killed half-way)
    for n, item in enumerate(parse_netscape(stream)):
        if n == 3:
            os._exit(3)
        yield item


def test_a_reader_process_that_dies_fails_the_import_and_stores_nothing(instance, tmp_path):
    engine = make_engine(instance["url"])
    with pytest.raises(ReaderFailed, match="exit code 3"):
        store(engine, prepared_from_file(FIX / "netscape/firefox-export.html", _dies))
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Bookmark)).scalar() == 0
    engine.dispose()
