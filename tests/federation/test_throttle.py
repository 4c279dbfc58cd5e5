"""The inbox's rate limit per remote host (``federation.throttle``), through the app on a real database with
real fake peers on 127.0.0.1: the limit+1st POST from one host in a window is 429 with Retry-After, other
hosts are still served, the next window serves it again, and the count is shared by every web process."""
from __future__ import annotations

from datetime import timedelta
from typing import Iterator

import pytest
from sqlalchemy import func, select

from linkblog import create_app
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
