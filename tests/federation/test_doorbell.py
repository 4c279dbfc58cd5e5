"""The doorbell wakes the worker when another connection commits work (a NOTIFY at commit on PostgreSQL, a
changed ``PRAGMA data_version`` on SQLite), so a saved bookmark does not wait for the worker's next poll."""
from __future__ import annotations

import threading
import uuid
from typing import Iterator

import pytest

from sqlalchemy import insert, text

from linkblog.federation import delivery, inbox
from linkblog.federation.doorbell import Doorbell
from linkblog.models import TAGS

PATIENCE = 10.0  # seconds a missing wake-up may take before the test calls it missing (not a speed check)


def listening(engine) -> tuple[Doorbell, threading.Event]:  # noqa: ANN001
    rung = threading.Event()
    bell = Doorbell(engine, rung.set).start()
    # The bell's connection is listening once it has seen one commit; make sure of it before the real test.
    for _ in range(100):
        with engine.begin() as conn:
            conn.execute(text("SELECT 1"))
            delivery.queue(conn, uri=f"https://links.test/warm-up/{uuid.uuid4()}", type_="Create", object_uri="x", payload="{}",
                           public=True, inboxes=["https://warm.example/inbox"])
        if rung.wait(0.2):
            rung.clear()
            return bell, rung
    bell.close()
    raise AssertionError("the doorbell never rang")


@pytest.fixture
def rung(engine) -> Iterator[threading.Event]:  # noqa: ANN001
    """Set when the doorbell on ``engine`` rings (it is listening already)."""
    bell, event = listening(engine)
    yield event
    bell.close()


def test_queued_deliveries_ring_the_bell_at_commit(engine, rung):
    with engine.begin() as conn:
        delivery.queue(conn, uri=f"https://links.test/a/{uuid.uuid4()}", type_="Create", object_uri="x", payload="{}",
                       public=True, inboxes=["https://one.example/inbox", "https://two.example/inbox"])
    assert rung.wait(PATIENCE), "a committed delivery should wake the worker"


def test_a_stored_inbox_activity_rings_the_bell(engine, rung):
    with engine.begin() as conn:
        assert inbox.store(conn, {"id": f"https://peer.example/likes/{uuid.uuid4()}", "type": "Like",
                                  "actor": "https://peer.example/users/a", "object": "https://links.test/b/1"},
                           "https://peer.example/users/a")
    assert rung.wait(PATIENCE), "a stored activity should wake the worker"


def test_nothing_rings_while_nothing_is_committed_and_a_rolled_back_queue_stays_silent(engine, rung):
    with engine.connect() as conn:
        conn.execute(insert(TAGS).values(name="never-kept"))
        delivery.queue(conn, uri=f"https://links.test/rolled-back/{uuid.uuid4()}", type_="Create", object_uri="x",
                       payload="{}", public=True, inboxes=["https://three.example/inbox"])
        conn.rollback()
    assert not rung.wait(1.0), "no commit happened, so nothing should wake the worker"
