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


def test_a_saved_copy_is_the_text_a_page_is_compared_with(engine, config, make_bookmark, web) -> None:  # noqa: ANN001
    """At its very first check a page that no longer says what its saved copy kept is 'changed': the copy, not
    the page as first checked, is the reference."""
    from sqlalchemy import insert

    from linkblog.db import utcnow
    from linkblog.links import copies
    from linkblog.models import PAGE_COPIES

    site = web.site()
    kept = " ".join(f"river heron reed{n} water stone" for n in range(60))
    now_says = " ".join(f"casino bonus offer{n} click win" for n in range(60))
    moved_on = make_bookmark.row(site.page("/story", Page(html("Story", now_says))))
    same = make_bookmark.row(site.page("/same", Page(html("Same", kept))))
    with engine.begin() as conn:
        for bookmark_id in (moved_on, same):
            conn.execute(insert(PAGE_COPIES).values(
                bookmark_id=bookmark_id, state="done", host=site.host, html_z=copies.compress(f"<p>{kept}</p>"),
                text=kept, fetched_at=utcnow(), next_attempt_at=utcnow(), created_at=utcnow()))
    run_worker_once(config)
    with engine.connect() as conn:
        states = dict(conn.execute(select(LINK_CHECKS.c.bookmark_id, LINK_CHECKS.c.state)).all())
    assert states == {moved_on: "changed", same: "ok"}
