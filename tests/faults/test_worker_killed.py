"""`linkblog serve` supervises its federation worker: SIGKILL it (as the kernel's OOM killer would) with a
quarter of a fan-out delivered, and a new worker comes back, takes over the dead one's rows once their lease
ends, and every inbox gets the activity, at most the batch that was in flight twice (at least once, by
activity id: FEDERATION.md). Real processes: `linkblog serve` (gunicorn and its worker) on loopback, and
the follower inboxes behind one real HTTP server.

300 inboxes, not the issue's 1,000: the inboxes answer after 50 ms and the worker sends 4 at a time, so
the fan-out lasts long enough (about 4 s) to be interrupted at a quarter; 1,000 at that pace would add
10 s to every run of the suite for nothing more learnt (bench/federation.py times the full fan-out). The
issue's 1,000: ``LINKBLOG_FAULTS_FOLLOWERS=1000 pytest -m faults -k killed``."""
from __future__ import annotations

import json
import os
import signal
import time
from typing import Iterator

import pytest
from sqlalchemy import func, select

from linkblog.db import make_engine
from linkblog.models import DELIVERIES, OUTBOX_ACTIVITIES

from tests.faults.peers import LoopbackInboxes, add_followers
from tests.support.app import PG_URL
from tests.support.live import Instance, alive, running, wait_for, worker_of

pytestmark = pytest.mark.slow  # real `linkblog serve` processes

FOLLOWERS = int(os.environ.get("LINKBLOG_FAULTS_FOLLOWERS", "300"))
CONCURRENCY = 4                 # deliveries in flight; a batch is 4 x this
BATCH = CONCURRENCY * 4
PROCESSES = 2                   # the worker and its forked delivery process each hold a batch
LEASE = 16                      # seconds: the shortest the config allows with delivery_timeout = 2
SETTINGS = {"federation": {"allow_private_addresses": True, "delivery_concurrency": CONCURRENCY,
                           "delivery_timeout": 2, "delivery_lease": LEASE, "delivery_processes": PROCESSES}}


@pytest.fixture(params=["sqlite"] + (["postgresql"] if PG_URL else []))
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    with running(("owner",), request.param, tmp_path_factory.mktemp, pg_url=PG_URL, settings=SETTINGS) as (one,):
        yield one


def database_url(site: Instance) -> str:
    return site.database_url or f"sqlite:///{site.directory / 'linkblog.db'}"


def test_a_killed_worker_is_restarted_and_every_inbox_gets_the_activity(site):
    inboxes = LoopbackInboxes(delay=0.05)
    engine = make_engine(database_url(site))
    try:
        add_followers(engine, [inboxes.inbox(n) for n in range(FOLLOWERS)])
        first = wait_for(lambda: worker_of(site.process.pid), what="the federation worker")

        status, _ = site.api("POST", "/api/bookmarks", {"url": "https://example.org/oom", "title": "Killed",
                                                        "visibility": "public"})
        assert status == 201
        with engine.connect() as conn:
            activity = json.loads(conn.execute(select(OUTBOX_ACTIVITIES.c.payload)).scalar_one())["id"]

        def count(*conditions) -> int:  # noqa: ANN002
            with engine.connect() as conn:
                return conn.execute(select(func.count()).select_from(DELIVERIES).where(*conditions)).scalar_one()

        # a quarter done, and a batch in flight (leased, not yet recorded): the kill interrupts it
        wait_for(lambda: count(DELIVERIES.c.state == "done") >= FOLLOWERS // 4
                 and count(DELIVERIES.c.state == "queued", DELIVERIES.c.claimed_until.is_not(None)) > 0,
                 interval=0.01, timeout=60, what="a quarter of the fan-out, with a batch in flight")
        os.kill(first, signal.SIGKILL)
        killed_at = time.monotonic()
        wait_for(lambda: not alive(first), what="the killed worker to be gone")
        done_at_kill = count(DELIVERIES.c.state == "done")
        held = count(DELIVERIES.c.state == "queued", DELIVERIES.c.claimed_until.is_not(None))
        assert done_at_kill < FOLLOWERS, "the fan-out finished before the kill: nothing was interrupted"
        assert 0 < held <= BATCH * PROCESSES, "the kill should interrupt a batch (leased rows), to show they are " \
                                              "taken over"

        second = wait_for(lambda: worker_of(site.process.pid), timeout=30, what="serve to restart the worker")
        assert second != first
        # serve logs the restart once the new worker runs: the log may trail the process list by a moment
        wait_for(lambda: "restarting it in" in site.log() and "federation worker restarted" in site.log(),
                 timeout=10, what="serve to log the worker's death and restart")

        wait_for(lambda: count(DELIVERIES.c.state == "done") == FOLLOWERS, timeout=LEASE + 60,
                 what="every delivery done after the restart")
        assert count(DELIVERIES.c.claimed_until.is_not(None)) == 0
        assert time.monotonic() - killed_at < LEASE + 60
        print(f"killed with {done_at_kill}/{FOLLOWERS} done and {held} leased; all done "
              f"{time.monotonic() - killed_at:.1f} s later; received twice: {inboxes.duplicates(activity)}")
        assert inboxes.inboxes_reached(activity) == FOLLOWERS          # every inbox, at least once
        assert inboxes.duplicates(activity) <= held                    # twice: at most what was in flight

        page = site.owner_page("/admin/deliveries")
        assert f":{second}</td>" in page and "No worker has reported" not in page
        assert 'class="worker-progress"' in page
    finally:
        engine.dispose()
        inboxes.close()
