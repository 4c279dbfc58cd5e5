"""Our Netscape export, imported by a real Firefox: Debian's firefox-esr, headless, in a new profile, with no
network (``unshare -n``) where that is allowed. Firefox imports ``bookmarks.html`` from a new profile when
``browser.places.importBookmarksHTML`` is set; what it stored is then read back from its ``places.sqlite``."""
from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import time
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from linkblog.db import make_engine
from linkblog.models import Bookmark

from tests.support.cli import run

FIREFOX = os.environ.get("LINKBLOG_FIREFOX", shutil.which("firefox-esr") or "/usr/bin/firefox-esr")
FIX = Path(__file__).parents[1] / "transfer" / "fixtures" / "bookmarks"
PREFS = """
user_pref("browser.places.importBookmarksHTML", true);
user_pref("browser.shell.checkDefaultBrowser", false);
user_pref("datareporting.policy.dataSubmissionEnabled", false);
user_pref("toolkit.telemetry.reportingpolicy.firstRun", false);
user_pref("app.update.enabled", false);
user_pref("browser.safebrowsing.update.enabled", false);
user_pref("network.dns.disableIPv6", true);
user_pref("network.proxy.type", 0);
"""
NASTY = """<!DOCTYPE NETSCAPE-Bookmark-file-1>
<DL><p>
<DT><A HREF="https://example.org/search?q=a&amp;b=%22c%22" ADD_DATE="1600000000" TAGS="quotes,amp">Ampersands &amp; "quotes" &lt;b&gt;not bold&lt;/b&gt;</A>
<DD>An annotation with &lt;script&gt;alert(1)&lt;/script&gt;
<DT><A HREF="https://例え.テスト/パス" ADD_DATE="1500000000" TAGS="unicode">Ünïcödé — “title”</A>
<DT><A HREF="https://example.org/private" ADD_DATE="1400000000" PRIVATE="1" TOREAD="1">Secret</A>
</DL><p>
"""


def _places(profile: Path) -> sqlite3.Connection:
    """A copy of Firefox's places database (it keeps the file locked while it runs), WAL included."""
    snapshot = profile.parent / "places-copy"
    shutil.rmtree(snapshot, ignore_errors=True)
    snapshot.mkdir()
    for name in ("places.sqlite", "places.sqlite-wal"):
        if (profile / name).exists():
            shutil.copyfile(profile / name, snapshot / name)
    return sqlite3.connect(snapshot / "places.sqlite", timeout=5)


def _imported(profile: Path) -> list[tuple[str, str, int, int]]:
    """(url, title, dateAdded µs, lastModified µs) of the bookmarks Firefox filed under its menu, its import target."""
    with _places(profile) as conn:
        return conn.execute(
            "SELECT p.url, b.title, b.dateAdded, b.lastModified FROM moz_bookmarks b JOIN moz_places p ON p.id = b.fk "
            "WHERE b.type = 1 AND b.parent = (SELECT id FROM moz_bookmarks WHERE guid = 'menu________') "
            "ORDER BY b.position").fetchall()


def _tags(profile: Path) -> dict[str, set[str]]:
    with _places(profile) as conn:
        rows = conn.execute(
            "SELECT p.url, folder.title FROM moz_bookmarks b JOIN moz_places p ON p.id = b.fk "
            "JOIN moz_bookmarks folder ON folder.id = b.parent "
            "WHERE folder.parent = (SELECT id FROM moz_bookmarks WHERE guid = 'tags________')").fetchall()
    found: dict[str, set[str]] = {}
    for url, tag in rows:
        found.setdefault(url, set()).add(tag)
    return found


def _firefox_imports(html: str, profile: Path, expected: int) -> None:
    profile.mkdir()
    (profile / "bookmarks.html").write_text(html, encoding="utf-8")
    (profile / "user.js").write_text(PREFS, encoding="utf-8")
    command = [FIREFOX, "--headless", "--no-remote", "--profile", str(profile), "about:blank"]
    if shutil.which("unshare") and subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0:
        command = ["unshare", "-n", *command]  # only loopback: Firefox cannot reach anything outside
    browser = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if (profile / "places.sqlite").exists():
                try:
                    if len(_imported(profile)) >= expected:
                        time.sleep(2)  # let it finish the tags, written just after the bookmarks
                        return
                except sqlite3.Error:
                    pass  # the database is still being created, or was copied mid-write
            assert browser.poll() is None, "Firefox exited before importing the bookmarks"
            time.sleep(0.25)
        pytest.fail(f"Firefox did not import {expected} bookmarks within 90 s")
    finally:
        os.killpg(browser.pid, signal.SIGTERM)
        try:
            browser.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(browser.pid, signal.SIGKILL)
            browser.wait()


def test_firefox_imports_our_netscape_export(tmp_path):
    if not Path(FIREFOX).exists():
        pytest.fail(f"no Firefox at {FIREFOX}: install Debian's (apt-get install firefox-esr) or set LINKBLOG_FIREFOX")
    folder = tmp_path / "inst"
    env = {"LINKBLOG_CONFIG": ""}
    assert run("init", "--dir", str(folder), env=env).exit_code == 0
    config = str(folder / "config.toml")
    nasty = tmp_path / "nasty.html"
    nasty.write_text(NASTY, encoding="utf-8")
    for source in (nasty, FIX / "netscape/firefox-export.html", FIX / "pinboard/pinboard-export-betula.json"):
        result = run("--config", config, "import", str(source), env=env)
        assert result.exit_code == 0, result.output
    exported = tmp_path / "export.html"
    assert run("--config", config, "export", str(exported), env=env).exit_code == 0
    engine = make_engine(f"sqlite:///{folder / 'linkblog.db'}")
    with engine.connect() as conn:
        ours = conn.execute(select(Bookmark.url, Bookmark.title, Bookmark.created_at, Bookmark.updated_at,
                                   Bookmark.tags_text).order_by(Bookmark.created_at, Bookmark.id)).all()
    engine.dispose()

    profile = tmp_path / "profile"
    _firefox_imports(exported.read_text(encoding="utf-8"), profile, len(ours))

    def micro(moment: datetime) -> int:
        return int((moment - datetime(1970, 1, 1)).total_seconds()) * 1_000_000

    theirs = _imported(profile)
    assert [(url, title) for url, title, _, _ in theirs] == [(row.url, row.title) for row in ours]
    assert [(added, modified) for _, _, added, modified in theirs] == [
        (micro(row.created_at), micro(row.updated_at)) for row in ours]
    tags = _tags(profile)
    assert {row.url: set(row.tags_text.split()) for row in ours if row.tags_text} == tags
    nasty_title = next(title for url, title, _, _ in theirs if "q=a" in url)
    assert nasty_title == 'Ampersands & "quotes" <b>not bold</b>'
