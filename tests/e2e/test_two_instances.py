"""Two linkblog servers as real processes on loopback (gunicorn + worker each), federating with each other:
discover, follow, accept, create/update/delete reaching the follower, like and reply coming back, unfollow.
Runs on SQLite, and on PostgreSQL when the test run has a server."""
from __future__ import annotations

import os
from typing import Iterator

import pytest

from tests.support.live import Instance, running, wait_for

PG_URL = os.environ.get("LINKBLOG_TEST_DATABASE_URL", "")
LOOPBACK = {"federation": {"allow_private_addresses": True}}
pytestmark = pytest.mark.federation


@pytest.fixture(scope="module", params=["sqlite"] + (["postgresql"] if PG_URL else []))
def pair(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Instance, Instance]]:
    with running(("alice", "bob"), request.param, tmp_path_factory.mktemp, pg_url=PG_URL, settings=LOOPBACK) as both:
        yield both[0], both[1]


def count(instance: Instance, query: str, **params) -> int:  # noqa: ANN003
    return instance.sql(query, **params)[0][0]


def test_two_servers_federate_end_to_end(pair):
    alice, bob = pair
    # discover: WebFinger and the actor document, as any server would read them
    status, jrd = alice.get_json(f"{bob.base_url}/.well-known/webfinger?resource=acct:bob@127.0.0.1:{bob.port}",
                                 accept="application/jrd+json")
    assert status == 200 and any(link.get("href") == bob.actor for link in jrd["links"])

    # follow by handle; bob auto-accepts; alice records the Accept
    alice.cli("follow", f"@bob@127.0.0.1:{bob.port}")
    wait_for(lambda: count(bob, "SELECT count(*) FROM followers WHERE state = 'accepted'") == 1,
             what="bob to record alice as a follower")
    wait_for(lambda: count(alice, "SELECT count(*) FROM following WHERE state = 'accepted'") == 1,
             what="alice to receive bob's Accept")
    assert bob.sql("SELECT a.uri FROM followers f JOIN remote_actors a ON a.id = f.actor_id")[0][0] == alice.actor

    # create reaches the follower (as a link post on alice's network page)
    status, saved = bob.api("POST", "/api/bookmarks", {"url": "https://example.org/federated",
                                                       "title": "Federated link", "tags": ["fedi"],
                                                       "annotation": "Worth it."})
    assert status == 201
    note_id = saved["permalink"]
    wait_for(lambda: alice.sql("SELECT title, link_url FROM remote_posts WHERE uri = :u", u=note_id),
             what="bob's Create to reach alice")
    assert alice.sql("SELECT link_url FROM remote_posts WHERE uri = :u", u=note_id)[0][0] == \
        "https://example.org/federated"

    # update reaches the follower
    assert bob.api("PATCH", f"/api/bookmarks/{saved['id']}", {"title": "Better title"})[0] == 200
    wait_for(lambda: alice.sql("SELECT 1 FROM remote_posts WHERE uri = :u AND title = 'Better title'", u=note_id),
             what="bob's Update to reach alice")

    # like and reply come back from alice's network page to bob's bookmark
    post_id = alice.sql("SELECT id FROM remote_posts WHERE uri = :u", u=note_id)[0][0]
    assert alice.owner_post(f"/network/{post_id}/like") in (302, 303)
    assert alice.owner_post(f"/network/{post_id}/reply", content="Thanks for this!") in (302, 303)
    wait_for(lambda: count(bob, "SELECT count(*) FROM interactions WHERE kind = 'like' AND target_id = :i",
                           i=saved["id"]) == 1, what="alice's Like to reach bob")
    wait_for(lambda: bob.sql("SELECT content_html FROM interactions WHERE kind = 'reply' AND target_id = :i",
                             i=saved["id"]), what="alice's reply to reach bob")
    page = bob.page(f"/bookmarks/{saved['id']}")
    assert "Thanks for this!" in page

    # delete reaches the follower
    assert bob.api("DELETE", f"/api/bookmarks/{saved['id']}")[0] == 204
    wait_for(lambda: not alice.sql("SELECT 1 FROM remote_posts WHERE uri = :u", u=note_id),
             what="bob's Delete to reach alice")

    # unfollow
    alice.cli("unfollow", bob.actor)
    wait_for(lambda: count(bob, "SELECT count(*) FROM followers") == 0, what="alice's Undo Follow to reach bob")
    assert count(alice, "SELECT count(*) FROM following") == 0
    # nothing failed along the way
    assert count(bob, "SELECT count(*) FROM deliveries WHERE state = 'gave_up'") == 0
    assert count(alice, "SELECT count(*) FROM deliveries WHERE state = 'gave_up'") == 0

