"""Moving an account between three linkblog servers, real processes on loopback (gunicorn + worker each):
``old`` moves to ``new``, and ``fan`` (who followed ``old``) ends up following ``new``. Everything goes through
the commands and the network as an owner would do it: signed WebFinger and actor fetches, the Move, the
Follow to the new account, its Accept, and the Undo to the old one. Runs on SQLite, and on PostgreSQL when
the test run has a server."""
from __future__ import annotations

import os
from typing import Iterator

import pytest

from tests.support.live import Instance, running, wait_for

PG_URL = os.environ.get("LINKBLOG_TEST_DATABASE_URL", "")
LOOPBACK = {"federation": {"allow_private_addresses": True}}
pytestmark = pytest.mark.federation


@pytest.fixture(scope="module", params=["sqlite"] + (["postgresql"] if PG_URL else []))
def trio(request: pytest.FixtureRequest,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Instance, Instance, Instance]]:
    with running(("olda", "newb", "fan"), request.param, tmp_path_factory.mktemp, pg_url=PG_URL,
                 settings=LOOPBACK) as three:
        yield three[0], three[1], three[2]


def count(instance: Instance, query: str, **params) -> int:  # noqa: ANN003
    return instance.sql(query, **params)[0][0]


def followed_by(instance: Instance) -> list[tuple[str, str]]:
    """(actor id, state) of everyone following ``instance``, from its own database."""
    return [tuple(r) for r in instance.sql(
        "SELECT a.uri, f.state FROM followers f JOIN remote_actors a ON a.id = f.actor_id ORDER BY a.uri")]


def following_of(instance: Instance) -> list[tuple[str, str]]:
    return [tuple(r) for r in instance.sql(
        "SELECT a.uri, f.state FROM following f JOIN remote_actors a ON a.id = f.actor_id ORDER BY a.uri")]


def handle(instance: Instance) -> str:
    return f"@{instance.username}@127.0.0.1:{instance.port}"


def test_an_account_moves_and_its_follower_follows_the_new_one(trio):
    old, new, fan = trio
    fan.cli("follow", handle(old))
    wait_for(lambda: followed_by(old) == [(fan.actor, "accepted")], what="old to record fan as a follower")
    wait_for(lambda: following_of(fan) == [(old.actor, "accepted")], what="fan to receive old's Accept")

    # the new account does not name the old one yet: the move is refused and nothing changes
    refused = old.cli("move", handle(new), "--yes", check=False)
    assert refused.returncode != 0
    assert f"Add {old.actor} as an alias" in refused.stderr and "Nothing was changed" in refused.stderr
    status, actor = old.get_json(old.actor)
    assert status == 200 and "movedTo" not in actor
    assert old.sql("SELECT moved_to, moved_at FROM owner") == [(None, None)]
    assert count(old, "SELECT count(*) FROM outbox_activities WHERE type IN ('Move', 'Update')") == 0

    # the new account adds the old one as an alias (looked up by handle, over the network)
    added = new.cli("alias", "add", handle(old))
    assert f"Added @olda@127.0.0.1:{old.port} as an alias" in added.stdout
    assert new.cli("alias", "list").stdout.split("\t")[0] == old.actor
    status, actor = new.get_json(new.actor)
    assert status == 200 and actor["alsoKnownAs"] == [old.actor]

    # now the move goes through
    moved = old.cli("move", handle(new), "--yes")
    assert "Moved to @newb@" in moved.stdout
    status, actor = old.get_json(old.actor)
    assert status == 200 and actor["movedTo"] == new.actor
    page = old.page("/")
    assert "This account has moved to" in page
    assert f'<a href="{new.base_url}/" rel="nofollow noopener">@newb@127.0.0.1:{new.port}</a>' in page

    # fan's server got the Move, checked new's alsoKnownAs, followed new and undid the follow of old
    wait_for(lambda: following_of(fan) == [(new.actor, "accepted")], what="fan to follow new and get its Accept")
    assert followed_by(new) == [(fan.actor, "accepted")]
    wait_for(lambda: followed_by(old) == [], what="fan's Undo Follow to reach old")
    assert fan.sql("SELECT moved_to FROM remote_actors WHERE uri = :u", u=old.actor) == [(new.actor,)]
    [(move_payload,)] = old.sql("SELECT payload FROM outbox_activities WHERE type = 'Move'")
    assert f'"target":"{new.actor}"' in move_payload
    assert fan.sql("SELECT type, state FROM inbox_activities WHERE type = 'Move'") == [("Move", "done")]

    # the same target again changes nothing; nothing failed anywhere
    again = old.cli("move", handle(new), "--yes")
    assert "already moved" in again.stdout
    assert count(old, "SELECT count(*) FROM outbox_activities WHERE type = 'Move'") == 1
    for instance in trio:
        assert count(instance, "SELECT count(*) FROM deliveries WHERE state = 'gave_up'") == 0
        assert count(instance, "SELECT count(*) FROM inbox_activities WHERE state = 'failed'") == 0
