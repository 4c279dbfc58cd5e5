"""The worker's links loop (``federation/worker.py``): with ``[links] check`` on, a worker cycle checks the
due links against the loopback web and leaves their state; off, it asks no site anything."""
from __future__ import annotations

import asyncio

from sqlalchemy import select

from linkblog.federation import worker
from linkblog.models import LINK_CHECKS
from tests.support.app import make_config
from tests.support.links import LINKS
from tests.support.testweb import Page, html

SETTINGS = LINKS  # the config fixture's (tests/links/conftest.py)


def run_worker_once(config) -> None:  # noqa: ANN001
    asyncio.run(worker.run(config, asyncio.Event(), once=True))


def test_a_worker_cycle_checks_the_due_links(engine, config, make_bookmark, web) -> None:  # noqa: ANN001
    site = web.site()
    alive = make_bookmark.row(site.page("/alive", Page(html("Alive", "words " * 40))))
    dead = make_bookmark.row(site.page("/dead", Page("gone", status=410)))
    run_worker_once(config)
    with engine.connect() as conn:
        states = dict(conn.execute(select(LINK_CHECKS.c.bookmark_id, LINK_CHECKS.c.state)).all())
    assert states == {alive: "ok", dead: "gone"}
    assert all("linkblog/" in seen.headers["user-agent"] for seen in site.requests)


def test_with_checks_off_no_site_is_asked(engine, database_url, make_bookmark, web) -> None:  # noqa: ANN001
    site = web.site()
    make_bookmark.row(site.page("/alive", Page(html("Alive"))))
    run_worker_once(make_config(database_url, **{**LINKS, "links.check": False}))
    assert site.requests == []
    with engine.connect() as conn:
        assert conn.execute(select(LINK_CHECKS)).first() is None
