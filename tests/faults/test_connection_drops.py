"""The database connections of a running `linkblog serve` (its web processes and its worker) are dropped
mid-work, under load (readers on the home page, the owner saving through the API, the fan-outs those saves
queue): on PostgreSQL every backend of the instance's database is killed with ``pg_terminate_backend``,
again and again for three seconds; on SQLite another process holds the write lock for four seconds.
Afterwards: nothing the site said it saved is lost, nothing is half-written (every bookmark has its Create
and a delivery per follower), every follower gets every activity, the worker carried on without being
restarted, and no request answered 500 or not at all outside the fault (on SQLite: not even during it)."""
from __future__ import annotations

import json
import sqlite3
import time
from typing import Iterator

import pytest
from sqlalchemy import create_engine, func, select, text

from linkblog.db import make_engine
from linkblog.models import BOOKMARKS, DELIVERIES, OUTBOX_ACTIVITIES

from tests.faults.load import Load
from tests.faults.peers import LoopbackInboxes, add_followers
from tests.support.databases import admin_url
from tests.support.live import Instance, running, wait_for, worker_of

pytestmark = pytest.mark.slow  # real `linkblog serve` processes, tens of seconds each

FOLLOWERS = 20
SETTINGS = {"federation": {"allow_private_addresses": True}}
GRACE = 2.0  # seconds after the last kill during which a request may still meet a connection it killed


@pytest.fixture
def inboxes() -> Iterator[LoopbackInboxes]:
    peer = LoopbackInboxes(delay=0.01)
    yield peer
    peer.close()


def database_url(site: Instance) -> str:
    return site.database_url or f"sqlite:///{site.directory / 'linkblog.db'}"


def start_load(site: Instance, inboxes: LoopbackInboxes) -> tuple[Load, int]:
    engine = make_engine(database_url(site))
    add_followers(engine, [inboxes.inbox(n) for n in range(FOLLOWERS)])
    engine.dispose()
    worker = wait_for(lambda: worker_of(site.process.pid), what="the federation worker")
    load = Load(site)
    load.readers(2)
    load.owner_saving(pause=0.3)
    time.sleep(3)  # load running before the fault
    return load, worker


def check_nothing_lost(site: Instance, load: Load, inboxes: LoopbackInboxes, worker: int) -> None:
    engine = make_engine(database_url(site))
    try:
        def queued() -> int:
            with engine.connect() as conn:
                return conn.execute(select(func.count()).select_from(DELIVERIES)
                                    .where(DELIVERIES.c.state != "done")).scalar_one()
        wait_for(lambda: queued() == 0, timeout=60, what="every delivery done")
        with engine.connect() as conn:
            stored = set(conn.execute(select(BOOKMARKS.c.id)).scalars())
            activities = conn.execute(select(OUTBOX_ACTIVITIES.c.id, OUTBOX_ACTIVITIES.c.payload)).all()
            per_activity = dict(conn.execute(select(DELIVERIES.c.activity_id, func.count())
                                             .group_by(DELIVERIES.c.activity_id)).all())
    finally:
        engine.dispose()
    assert load.saved and set(load.saved) <= stored, "a save answered 201 is missing"
    assert len(activities) == len(stored), "a bookmark without its Create, or a Create without its bookmark"
    assert all(per_activity.get(a.id) == FOLLOWERS for a in activities), "a fan-out half queued"
    for activity in activities:
        assert inboxes.inboxes_reached(json.loads(activity.payload)["id"]) == FOLLOWERS
    assert worker_of(site.process.pid) == worker, "the worker died (or was restarted) instead of reconnecting"
    assert "database is locked" not in site.log()


def test_postgresql_backends_terminated_under_load(postgres_server, tmp_path_factory, inboxes):
    with running(("owner",), "postgresql", tmp_path_factory.mktemp, pg_url=postgres_server,
                 settings=SETTINGS) as (site,):
        load, worker = start_load(site, inboxes)
        admin = create_engine(admin_url(site.database_url), isolation_level="AUTOCOMMIT")
        killed = 0
        fault_start = time.monotonic()
        try:
            with admin.connect() as conn:
                while time.monotonic() - fault_start < 3:
                    killed += conn.execute(text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar_one()
                    time.sleep(0.2)
        finally:
            admin.dispose()
        fault_end = time.monotonic()
        time.sleep(5)  # load running after the fault
        load.finish()
        assert killed >= 15, f"only {killed} connections were terminated: the fault did not happen"
        before = [a for a in load.failures(0, fault_start) if a.started + a.seconds < fault_start]  # done before it
        after = load.failures(fault_end + GRACE)
        assert not before and not after, "failures outside the fault (seconds after it ended): " + ", ".join(
            f"{a.kind} {a.status} at {a.started - fault_end:+.2f} s ({a.error[:80]})" for a in before + after)
        assert load.of("home", fault_end + GRACE) and all(a.status == 200 for a in load.of("home", fault_end + GRACE))
        check_nothing_lost(site, load, inboxes, worker)


def test_sqlite_write_lock_held_for_seconds_under_load(tmp_path_factory, inboxes):
    with running(("owner",), "sqlite", tmp_path_factory.mktemp, settings=SETTINGS) as (site,):
        load, worker = start_load(site, inboxes)
        holder = sqlite3.connect(site.directory / "linkblog.db", timeout=30, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")              # the write lock: every other writer waits
        holder.execute("UPDATE owner SET summary = summary")
        time.sleep(4)
        holder.execute("ROLLBACK")
        holder.close()
        time.sleep(5)
        load.finish()
        assert not load.failures(), f"failures: {load.failures()[:5]}"
        assert all(a.status == 200 for a in load.of("home"))
        check_nothing_lost(site, load, inboxes, worker)
