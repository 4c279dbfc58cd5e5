"""The worker delivers from two processes (``[federation] delivery_processes = 2``): both send, no inbox gets
an activity twice, and a delivery process that dies takes the worker down with a message that says so, and
`linkblog serve` brings both back. Real processes: `linkblog serve` on loopback, inboxes behind one HTTP server."""
from __future__ import annotations

import json
import os
import signal
from typing import Iterator

import pytest
from sqlalchemy import func, select

from linkblog.db import make_engine
from linkblog.models import DELIVERIES, OUTBOX_ACTIVITIES, WORKER_HEALTH

from tests.faults.peers import LoopbackInboxes, add_followers
from tests.support.app import PG_URL
from tests.support.live import Instance, alive, children, is_worker, running, wait_for, worker_of

pytestmark = pytest.mark.slow  # real `linkblog serve` processes

FOLLOWERS = 200
SETTINGS = {"federation": {"allow_private_addresses": True, "delivery_processes": 2, "delivery_concurrency": 4,
                           "delivery_timeout": 2, "delivery_lease": 16}}


@pytest.fixture(params=["sqlite"] + (["postgresql"] if PG_URL else []))
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    with running(("owner",), request.param, tmp_path_factory.mktemp, pg_url=PG_URL, settings=SETTINGS) as (one,):
        yield one


def test_two_delivery_processes_share_a_fan_out_and_come_back_together(site):
    inboxes = LoopbackInboxes(delay=0.02)
    engine = make_engine(site.database_url or f"sqlite:///{site.directory / 'linkblog.db'}")
    try:
        add_followers(engine, [inboxes.inbox(n) for n in range(FOLLOWERS)])
        worker = wait_for(lambda: worker_of(site.process.pid), what="the federation worker")
        deliverer = wait_for(lambda: next(iter(children(worker)), None), what="the worker's delivery process")
        assert is_worker(deliverer)

        status, _ = site.api("POST", "/api/bookmarks", {"url": "https://example.org/both", "title": "Both cores",
                                                        "visibility": "public"})
        assert status == 201
        with engine.connect() as conn:
            activity = json.loads(conn.execute(select(OUTBOX_ACTIVITIES.c.payload)).scalar_one())["id"]

        def done() -> int:
            with engine.connect() as conn:
                return conn.execute(select(func.count()).select_from(DELIVERIES)
                                    .where(DELIVERIES.c.state == "done")).scalar_one()

        wait_for(lambda: done() == FOLLOWERS, timeout=60, what="every delivery done")
        assert inboxes.inboxes_reached(activity) == FOLLOWERS and inboxes.duplicates(activity) == 0
        with engine.connect() as conn:  # each process keeps its own heartbeat, with when it last did work
            working = conn.execute(select(WORKER_HEALTH.c.name).where(WORKER_HEALTH.c.progress_at.is_not(None))).scalars()
            pids = {int(name.rsplit(":", 1)[1]) for name in working}
        assert {worker, deliverer} <= pids, "both processes should have delivered part of the fan-out"

        os.kill(deliverer, signal.SIGKILL)
        wait_for(lambda: not alive(worker), timeout=30, what="the worker to stop when its delivery process dies")
        assert f"delivery process {deliverer} stopped (killed by SIGKILL)" in site.log()
        again = wait_for(lambda: worker_of(site.process.pid), timeout=30, what="serve to restart the worker")
        assert again != worker
        wait_for(lambda: next(iter(children(again)), None), what="a new delivery process")
    finally:
        engine.dispose()
        inboxes.close()


def niceness(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as handle:
        return int(handle.read().rsplit(")", 1)[1].split()[16])


def test_a_stopped_worker_waits_for_its_own_work_and_stops_cleanly(site):
    """SIGTERM ends the watch on the delivery processes at once; the worker must still wait for its own loops
    to finish (their batch in hand) instead of asking a running task for its result."""
    worker = wait_for(lambda: worker_of(site.process.pid), what="the federation worker")
    deliverer = wait_for(lambda: next(iter(children(worker)), None), what="the worker's delivery process")
    # both run below the web's CPU priority ([federation] worker_niceness, 5 by default)
    assert niceness(worker) == niceness(deliverer) == min(19, niceness(site.process.pid) + 5)
    os.kill(worker, signal.SIGTERM)
    wait_for(lambda: not alive(worker), timeout=30, what="the worker to stop")
    log = site.log()
    assert "InvalidStateError" not in log and "Traceback" not in log
    assert "linkblog worker stopped" in log
