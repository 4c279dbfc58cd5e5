"""The inbox's rate limit per remote host (``federation.throttle``), through the app on a real database with
real fake peers on 127.0.0.1: the limit+1st POST from one host in a window is 429 with Retry-After, other
hosts are still served, the next window serves it again, and the count is shared by every web process."""
from __future__ import annotations

from datetime import timedelta
from typing import Iterator

import pytest
from sqlalchemy import event, func, select

from linkblog import create_app
from linkblog.db import make_engine
from linkblog.federation import throttle
from linkblog.models import InboxActivity
from linkblog.web.incoming import CLOCK_KEY

from tests.support.app import BASE_URL, make_config
from tests.federation.fakes import NOW, RemotePeer

pytestmark = pytest.mark.usefixtures("clock", "loopback_only", "forget_failed_keys")  # a fixed clock, no DNS

LIMIT = 5
WINDOW = 60


@pytest.fixture
def config(database_url):
    return make_config(database_url, **{"federation.allow_private_addresses": True,
                                        "federation.inbox_rate_limit": LIMIT,
                                        "federation.inbox_rate_window": WINDOW})


@pytest.fixture
def other_peer() -> Iterator[RemotePeer]:
    """A second fake server: another host (127.0.0.1 on another port) as far as the limit is concerned."""
    remote = RemotePeer.start()
    yield remote
    remote.close()


def stored(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(InboxActivity)).scalar_one()


def like(peer, actor):  # noqa: ANN001, ANN201
    return peer.activity(actor, "Like", f"{BASE_URL}/bookmarks/1")


def test_one_host_over_the_limit_gets_429_with_retry_after_and_others_are_served(client, engine, clock, peer,
                                                                                 other_peer):
    alice, bob = peer.actor("alice"), other_peer.actor("bob")
    clock.now = NOW + timedelta(seconds=15)   # 15 s into a window of 60
    for _ in range(LIMIT):
        assert peer.post(client, alice, like(peer, alice), now=clock.now).status_code == 202
    over = peer.post(client, alice, like(peer, alice), now=clock.now)
    assert over.status_code == 429
    assert over.headers["Retry-After"] == "45"
    assert "too many requests" in over.get_json()["error"]
    assert stored(engine) == LIMIT
    assert len(peer.gets(alice.uri)) == 1    # the refused POST cost no key fetch (nor anything else)

    assert other_peer.post(client, bob, like(other_peer, bob), now=clock.now).status_code == 202
    assert stored(engine) == LIMIT + 1

    clock.now = NOW + timedelta(seconds=WINDOW)   # the next window
    assert peer.post(client, alice, like(peer, alice), now=clock.now).status_code == 202
    assert stored(engine) == LIMIT + 2


def test_the_limit_counts_every_key_of_a_host_and_both_signature_schemes(client, engine, clock, peer):
    alice, carol = peer.actor("alice"), peer.actor("carol", key_index=1)
    for n in range(LIMIT):
        actor = (alice, carol)[n % 2]
        assert peer.post(client, actor, like(peer, actor), now=NOW,
                         scheme=("cavage", "rfc9421")[n % 2]).status_code == 202
    assert peer.post(client, carol, like(peer, carol), now=NOW, scheme="rfc9421").status_code == 429


def test_the_count_is_shared_by_every_web_process(config, client, engine, clock, peer):
    """A second app on the same database stands for a second gunicorn worker: it sees the first one's count."""
    alice = peer.actor("alice")
    for _ in range(LIMIT):
        assert peer.post(client, alice, like(peer, alice), now=NOW).status_code == 202
    second = create_app(config)
    second.config["TESTING"] = True
    second.extensions[CLOCK_KEY] = clock
    try:
        assert peer.post(second.test_client(), alice, like(peer, alice), now=NOW).status_code == 429
    finally:
        second.extensions["linkblog"].engine.dispose()


def test_zero_turns_the_limit_off(app, client, engine, peer):
    holder = app.extensions["linkblog"]
    holder.config = make_config(holder.config.database_url, **{"federation.allow_private_addresses": True,
                                                               "federation.inbox_rate_limit": 0})
    alice = peer.actor("alice")
    for _ in range(LIMIT + 3):
        assert peer.post(client, alice, like(peer, alice), now=NOW).status_code == 202
    assert stored(engine) == LIMIT + 3


def rate_writes(engine) -> list[str]:
    """Every statement on ``engine`` that touches ``inbox_rates`` from now on (a list that keeps growing)."""
    seen: list[str] = []

    def note(_conn, _cursor, statement, *_args) -> None:
        if "inbox_rates" in statement:
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    return seen


def test_a_spent_window_is_refused_from_memory_without_a_write(client, engine, clock, peer):
    alice = peer.actor("alice")
    for _ in range(LIMIT):
        assert peer.post(client, alice, like(peer, alice), now=NOW).status_code == 202
    writes = rate_writes(engine)
    assert peer.post(client, alice, like(peer, alice), now=NOW).status_code == 429
    assert len(writes) == 1     # the count said the window is spent ...
    for _ in range(3):
        assert peer.post(client, alice, like(peer, alice), now=NOW).status_code == 429
    assert len(writes) == 1     # ... and nobody asks it again in this window
    clock.now = NOW + timedelta(seconds=WINDOW)
    assert peer.post(client, alice, like(peer, alice), now=clock.now).status_code == 202


def test_a_large_limit_is_claimed_in_chunks_by_each_process_and_never_exceeded(database_url, engine):
    """Two engines on one database stand for two web processes; each claims 10 POSTs of the 320 at a time."""
    limit = 320
    config = make_config(database_url, **{"federation.inbox_rate_limit": limit, "federation.inbox_rate_window": WINDOW})
    headers = {"Signature": 'keyId="https://a.example/users/x#main-key",algorithm="rsa-sha256",signature="x"'}
    assert throttle.claim_size(limit) == 10
    second = make_engine(database_url)
    try:
        first_writes, second_writes = rate_writes(engine), rate_writes(second)
        admitted = sum(throttle.check(e, config, headers, now=NOW) is None for _ in range(200) for e in (engine, second))
        assert admitted == limit                    # every claim was used: exactly the limit, never more
        assert len(first_writes) + len(second_writes) <= 2 * (200 // 10 + 1)   # not one write per POST
        # A process that claimed and stopped leaves its claim unused: the other is refused a little early.
        later = NOW + timedelta(seconds=WINDOW)
        assert sum(throttle.check(engine, config, headers, now=later) is None for _ in range(3)) == 3
        others = sum(throttle.check(second, config, headers, now=later) is None for _ in range(400))
        assert others == limit - 10                 # the first one's claim counts whole: 3 used, 7 left unused
    finally:
        second.dispose()
