"""What the prune (``federation.retention``) keeps and removes, on a real database with an explicit ``now``:
bodies of processed inbound activities go first, their ids later, finished deliveries after their
retention, spent rate windows at once; nothing still queued is touched; and an activity redelivered after
its body was emptied is still a no-op (idempotence needs only the id)."""
from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, insert, select

from linkblog.db import BATCH_SIZE
from linkblog.federation import inbox, retention
from linkblog.federation.fetcher import fetch_client
from linkblog.models import Delivery, InboxActivity, InboxRate, Interaction, OutboxActivity

from tests.support.app import BASE_URL, make_config
from tests.federation.fakes import NOW

pytestmark = pytest.mark.usefixtures("clock", "loopback_only", "forget_failed_keys")  # a fixed clock, no DNS

DAY = timedelta(days=1)
BODY_DAYS, ID_DAYS, DELIVERY_DAYS = 2, 30, 14


@pytest.fixture
def config(database_url):
    return make_config(database_url, **{"federation.allow_private_addresses": True,
                                        "federation.inbox_body_retention_days": BODY_DAYS,
                                        "federation.inbox_id_retention_days": ID_DAYS,
                                        "federation.delivery_retention_days": DELIVERY_DAYS})


def received(engine, name: str, at: datetime, state: str = "done") -> str:
    uri = f"https://remote.example/activities/{name}"
    with engine.begin() as conn:
        conn.execute(insert(InboxActivity).values(
            uri=uri, actor_uri="https://remote.example/users/alice", type="Like", state=state, received_at=at,
            processed_at=None if state == "queued" else at,
            payload=json.dumps({"id": uri, "type": "Like", "padding": "x" * 10_000})))
    return uri


def inbox_rows(engine) -> dict[str, int]:
    """Each stored activity's uri (its last part) and the length of the body it still keeps."""
    with engine.connect() as conn:
        return {uri.rsplit("/", 1)[-1]: length for uri, length in
                conn.execute(select(InboxActivity.uri, func.length(InboxActivity.payload)))}


def delivery_states(engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(Delivery.inbox, Delivery.state).order_by(Delivery.id))]


def test_bodies_go_after_their_retention_and_ids_after_theirs(engine, config):
    received(engine, "fresh", NOW - timedelta(hours=1))
    received(engine, "body-kept", NOW - BODY_DAYS * DAY + timedelta(minutes=1))
    received(engine, "body-gone", NOW - BODY_DAYS * DAY - timedelta(minutes=1))
    received(engine, "failed-body-gone", NOW - 5 * DAY, state="failed")
    received(engine, "id-kept", NOW - ID_DAYS * DAY + timedelta(minutes=1), state="ignored")
    received(engine, "id-gone", NOW - ID_DAYS * DAY - timedelta(minutes=1))
    received(engine, "queued-long", NOW - 400 * DAY, state="queued")   # the worker was down: never touched

    result = retention.prune(engine, config, now=NOW)

    kept = inbox_rows(engine)
    assert set(kept) == {"fresh", "body-kept", "body-gone", "failed-body-gone", "id-kept", "queued-long"}
    assert [name for name, length in kept.items() if length == 0] == ["body-gone", "failed-body-gone", "id-kept"]
    assert kept["fresh"] > 10_000 and kept["body-kept"] > 10_000 and kept["queued-long"] > 10_000
    assert (result.bodies, result.activities, result.more) == (3, 1, False)
    assert retention.prune(engine, config, now=NOW).total == 0   # nothing more to do: emptied rows are not redone


def test_finished_deliveries_go_after_their_retention_and_queued_ones_stay(engine, config):
    with engine.begin() as conn:
        activity = conn.execute(insert(OutboxActivity).values(
            uri=f"{BASE_URL}/activities/1", type="Create", payload="{}", public=True,
            created_at=NOW - 60 * DAY).returning(OutboxActivity.id)).scalar_one()
        for inbox_name, state, age in [("done-old", "done", DELIVERY_DAYS * DAY + timedelta(minutes=1)),
                                       ("gave-up-old", "gave_up", 40 * DAY),
                                       ("done-new", "done", DELIVERY_DAYS * DAY - timedelta(minutes=1)),
                                       ("queued-old", "queued", 40 * DAY)]:
            conn.execute(insert(Delivery).values(activity_id=activity, inbox=f"https://{inbox_name}.example/inbox",
                                                 host=f"{inbox_name}.example", state=state,
                                                 next_attempt_at=NOW - age, created_at=NOW - age,
                                                 updated_at=NOW - age))
    assert retention.prune(engine, config, now=NOW).deliveries == 2
    assert delivery_states(engine) == [("https://done-new.example/inbox", "done"),
                                       ("https://queued-old.example/inbox", "queued")]


def test_spent_rate_windows_go(engine, config):
    with engine.begin() as conn:
        conn.execute(insert(InboxRate), [{"host": "a.example", "window_start": NOW - timedelta(minutes=5), "count": 9},
                                         {"host": "a.example", "window_start": NOW, "count": 3}])
    assert retention.prune(engine, config, now=NOW).rate_windows == 1
    with engine.connect() as conn:
        assert conn.execute(select(InboxRate.window_start)).scalars().all() == [NOW]


def test_a_backlog_is_pruned_in_batches_over_several_calls(engine, config):
    old = NOW - (ID_DAYS + 1) * DAY
    with engine.begin() as conn:
        conn.execute(insert(InboxActivity), [
            {"uri": f"https://remote.example/activities/{n}", "actor_uri": "https://remote.example/users/a",
             "type": "Like", "payload": "{}", "state": "done", "received_at": old} for n in range(BATCH_SIZE + 10)])
    first = retention.prune(engine, config, now=NOW, max_batches=1)
    assert (first.activities, first.more) == (BATCH_SIZE, True)
    second = retention.prune(engine, config, now=NOW, max_batches=4)
    assert (second.activities, second.more) == (10, False)
    assert inbox_rows(engine) == {}


def test_a_redelivery_after_the_body_is_gone_is_still_a_noop(client, engine, config, clock, make_bookmark, peer):
    alice = peer.actor("alice")
    bookmark_id = make_bookmark.row(created_at=NOW - 10 * DAY)
    like = peer.activity(alice, "Like", f"{BASE_URL}/bookmarks/{bookmark_id}")
    assert peer.post(client, alice, like, now=NOW).status_code == 202
    assert inbox.process_pending(engine, config, fetch_client(config)) == 1

    later = NOW + (BODY_DAYS + 1) * DAY
    assert retention.prune(engine, config, now=later).bodies == 1
    assert inbox_rows(engine) == {like["id"].rsplit("/", 1)[-1]: 0}

    clock.now = later   # the sender retries the same activity days later
    assert peer.post(client, alice, like, now=later).status_code == 202
    assert inbox.process_pending(engine, config, fetch_client(config)) == 0
    with engine.connect() as conn:
        assert conn.execute(select(InboxActivity.state)).scalars().all() == ["done"]
        assert conn.execute(select(func.count()).select_from(Interaction)).scalar_one() == 1


def test_the_worker_prunes_when_due(engine, config):
    seconds = [0.0]
    schedule = retention.Schedule(every=3600, monotonic=lambda: seconds[0])
    received(engine, "id-gone", NOW - (ID_DAYS + 1) * DAY)
    assert retention.prune_when_due(engine, config, schedule, now=NOW) == 1
    received(engine, "id-gone-too", NOW - (ID_DAYS + 1) * DAY)
    seconds[0] = 3599.0
    assert retention.prune_when_due(engine, config, schedule, now=NOW) == 0   # not due yet
    seconds[0] = 3600.0
    assert retention.prune_when_due(engine, config, schedule, now=NOW) == 1
    assert inbox_rows(engine) == {}
