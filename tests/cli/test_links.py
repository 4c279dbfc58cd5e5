"""``linkblog links check [--all]`` (``cli/links.py``) through click's runner, on a real database and the
loopback web: the due links (or all) are checked, and the summary says what they are and what changed."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import insert, select, update

from linkblog.config import render_toml
from linkblog.db import make_engine
from linkblog.models import BOOKMARKS, LINK_CHECKS

from tests.support.app import make_config
from tests.support.cli import run
from tests.support.links import LINKS
from tests.support.testweb import Page, Web, html, redirect


def test_links_check_then_check_all(tmp_path: Path, database_url: str) -> None:
    config = make_config(database_url, **LINKS)
    path = tmp_path / "config.toml"
    path.write_text(render_toml(config.values), encoding="utf-8")
    engine = make_engine(database_url)
    state = {"alive": True}
    try:
        with Web() as web:
            site = web.site()
            urls = [site.page("/fine", lambda seen: Page(html("Fine", "some words " * 30)) if state["alive"]
                              else Page("gone", status=404)),
                    site.page("/moved", redirect("/fine", 301)), site.page("/dead", Page("gone", status=410))]
            with engine.begin() as conn:
                ids = [conn.execute(insert(BOOKMARKS).values(url=url, title="t").returning(BOOKMARKS.c.id))
                       .scalar_one() for url in urls]

            first = run("links", "check", "--config", str(path))
            assert first.exit_code == 0, first.output
            assert "Checking links" in first.output
            assert "Checked 3 links: 1 gone, 1 ok, 1 redirected; 0 changed state." in first.output
            with engine.connect() as conn:
                assert dict(conn.execute(select(LINK_CHECKS.c.bookmark_id, LINK_CHECKS.c.state)).all()) == {
                    ids[0]: "ok", ids[1]: "redirected", ids[2]: "gone"}

            again = run("links", "check", "--config", str(path))
            assert "Checked 0 links; 0 changed state." in again.output      # nothing is due yet
            state["alive"] = False
            everything = run("links", "check", "--all", "--config", str(path))
            assert everything.exit_code == 0, everything.output
            # the moved link's target died too: a redirect ending in 404 is gone
            assert "Checked 3 links: 3 gone; 2 changed state." in everything.output
            assert f"#{ids[0]} {urls[0]}: ok -> gone" in everything.output
            assert f"#{ids[1]} {urls[1]}: redirected -> gone" in everything.output

            with engine.begin() as conn:   # a link falls due: only it is checked
                conn.execute(update(LINK_CHECKS).where(LINK_CHECKS.c.bookmark_id == ids[2])
                             .values(next_check_at=LINK_CHECKS.c.checked_at))
            hits = len(site.requests)
            due = run("links", "check", "--config", str(path))
            assert "Checked 1 link: 1 gone; 0 changed state." in due.output
            assert {s.path for s in site.requests[hits:]} == {"/dead"}
    finally:
        engine.dispose()
