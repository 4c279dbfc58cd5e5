"""Following accounts against a fake fediverse server on 127.0.0.1 (WebFinger JRD and actor documents
over plain http, allowed by allow_private_addresses), on both databases: rows, the queued Follow and
Undo, signed actor fetches, and the errors the owner sees."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from linkblog.cli import main as cli
from linkblog.federation import following
from linkblog.federation.following import FollowError
from linkblog.federation.signatures import IncomingRequest, Verified, parse_signature, verify_parsed
from linkblog.models import BlockedActor, Delivery, Following, OutboxActivity, RemoteActor

from tests.federation.fakes import PEM
from tests.support.app import BASE_URL, make_config

A, FG, O, D = RemoteActor.__table__, Following.__table__, OutboxActivity.__table__, Delivery.__table__
AP = "application/activity+json"


def _table(engine, table) -> list[dict]:  # noqa: ANN001
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(table).order_by(table.c.id)).mappings()]


def _activities(engine) -> list[tuple[dict, list[str]]]:  # noqa: ANN001
    """Every queued activity's JSON with the inboxes it goes to."""
    with engine.connect() as conn:
        rows = conn.execute(select(O.c.id, O.c.payload).order_by(O.c.id)).all()
        return [(json.loads(payload), sorted(conn.execute(select(D.c.inbox).where(D.c.activity_id == ident))
                                             .scalars())) for ident, payload in rows]


def _nothing_written(engine) -> bool:  # noqa: ANN001
    with engine.connect() as conn:
        return all(conn.execute(select(func.count()).select_from(t)).scalar_one() == 0 for t in (A, FG, O, D))


# --- follow --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["@alice@{host}", "alice@{host}", "acct:alice@{host}", "@Alice@{host}"])
def test_follow_by_handle_stores_the_actor_and_queues_a_follow(engine, config, remote, fetcher, form):
    doc = remote.actor("alice")
    result = following.follow(engine, config, form.format(host=remote.host), fetcher)

    assert result.changed and result.handle == f"alice@{remote.host}"
    assert "Asked to follow @alice@" in result.message
    [actor] = _table(engine, A)
    assert {k: actor[k] for k in ("uri", "inbox", "shared_inbox", "handle", "display_name", "url", "icon_url",
                                  "key_id", "public_key_pem")} == {
        "uri": doc["id"], "inbox": doc["inbox"], "shared_inbox": f"{remote.base}/inbox",
        "handle": f"alice@{remote.host}", "display_name": "Alice Example", "url": f"{remote.base}/@alice",
        "icon_url": f"{remote.base}/alice.png", "key_id": f"{doc['id']}#main-key", "public_key_pem": PEM}
    [row] = _table(engine, FG)
    assert row["actor_id"] == actor["id"] and row["state"] == "pending"
    [(activity, inboxes)] = _activities(engine)
    assert activity == {"@context": "https://www.w3.org/ns/activitystreams", "id": row["follow_uri"],
                        "type": "Follow", "actor": f"{BASE_URL}/actor", "to": [doc["id"]], "object": doc["id"]}
    assert row["follow_uri"].startswith(f"{BASE_URL}/activities/")
    assert inboxes == [doc["inbox"]]  # the personal inbox, not the shared one
    [delivery] = _table(engine, D)
    assert delivery["state"] == "queued" and delivery["host"] == remote.host


def test_the_actor_is_fetched_with_our_signature(engine, config, remote, fetcher, key_pair):
    remote.actor("alice")
    following.follow(engine, config, f"@alice@{remote.host}", fetcher)
    path, headers = next((p, h) for p, h in remote.seen if p == "/users/alice")
    parsed = parse_signature(IncomingRequest("GET", path, headers, b"", scheme="http"))
    verified = verify_parsed(parsed, key_pair[1], datetime.now(timezone.utc))
    assert isinstance(verified, Verified), verified
    assert verified.key_id == f"{BASE_URL}/actor#main-key"
    assert "application/activity+json" in headers["accept"]


def test_the_webfinger_lookup_is_signed_too(engine, config, remote, fetcher, key_pair):
    remote.actor("carol")
    following.follow(engine, config, f"@carol@{remote.host}", fetcher)
    path, headers = next((p, h) for p, h in remote.seen if p.startswith("/.well-known/webfinger"))
    parsed = parse_signature(IncomingRequest("GET", path, headers, b"", scheme="http"))
    verified = verify_parsed(parsed, key_pair[1], datetime.now(timezone.utc))
    assert isinstance(verified, Verified), verified


def test_follow_by_actor_url_derives_the_handle(engine, config, remote, fetcher):
    doc = remote.actor("bob")
    result = following.follow(engine, config, doc["id"], fetcher)
    assert result.changed and result.actor_uri == doc["id"]
    [actor] = _table(engine, A)
    assert actor["handle"] == f"bob@{remote.host}"
    assert not any(p.startswith("/.well-known/webfinger") for p, _ in remote.seen)
    [(activity, inboxes)] = _activities(engine)
    assert activity["type"] == "Follow" and activity["object"] == doc["id"] and inboxes == [doc["inbox"]]


def test_follow_by_profile_page_address_follows_the_canonical_actor(engine, config, remote, fetcher):
    doc = remote.actor("carol")
    following.follow(engine, config, f"{remote.base}/@carol", fetcher)
    [actor] = _table(engine, A)
    assert actor["uri"] == doc["id"]
    assert [p for p, _ in remote.seen] == ["/@carol", "/users/carol"]


def test_following_twice_says_so_and_adds_nothing(engine, config, remote, fetcher):
    remote.actor("alice")
    following.follow(engine, config, f"@alice@{remote.host}", fetcher)
    requests = len(remote.seen)
    for again in (f"@ALICE@{remote.host}", f"{remote.base}/users/alice"):
        result = following.follow(engine, config, again, fetcher)
        assert not result.changed
        assert result.message == f"You already follow @alice@{remote.host} (still waiting for them to accept)."
    assert len(remote.seen) == requests  # answered from the database, no lookup
    assert len(_table(engine, FG)) == 1 and len(_activities(engine)) == 1 and len(_table(engine, A)) == 1


def test_a_known_actor_is_refreshed_not_duplicated(engine, config, remote, fetcher):
    remote.actor("alice")
    following.follow(engine, config, f"@alice@{remote.host}", fetcher)
    following.unfollow(engine, config, f"@alice@{remote.host}")
    remote.actor("alice", name="Alice Renamed")
    following.follow(engine, config, f"@alice@{remote.host}", fetcher)
    [actor] = _table(engine, A)
    assert actor["display_name"] == "Alice Renamed"
    assert [a["type"] for a, _ in _activities(engine)] == ["Follow", "Undo", "Follow"]


# --- unfollow ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["handle", "url", "id"])
def test_unfollow_queues_an_undo_of_the_stored_follow(engine, config, remote, fetcher, how):
    doc = remote.actor("alice")
    followed = following.follow(engine, config, f"@alice@{remote.host}", fetcher)
    [row] = _table(engine, FG)
    target = {"handle": f"alice@{remote.host}", "url": doc["id"], "id": followed.actor_id}[how]
    requests = len(remote.seen)

    result = following.unfollow(engine, config, target)

    assert result.message == f"Unfollowed @alice@{remote.host}."
    assert len(remote.seen) == requests  # no network
    assert _table(engine, FG) == []
    (follow, _), (undo, inboxes) = _activities(engine)
    assert undo["type"] == "Undo" and undo["actor"] == f"{BASE_URL}/actor" and undo["id"] != follow["id"]
    assert undo["object"] == {k: v for k, v in follow.items() if k != "@context"}
    assert undo["object"]["id"] == row["follow_uri"] and undo["to"] == [doc["id"]]
    assert inboxes == [doc["inbox"]]


def test_unfollowing_someone_not_followed_is_an_error(engine, config):
    with pytest.raises(FollowError, match="You do not follow @nobody@example.social"):
        following.unfollow(engine, config, "@nobody@example.social")
    assert _nothing_written(engine)


# --- errors --------------------------------------------------------------------------------------------


def test_unknown_handle(engine, config, remote, fetcher):
    with pytest.raises(FollowError, match="There is no account @ghost@.* answered 404"):
        following.follow(engine, config, f"@ghost@{remote.host}", fetcher)
    assert _nothing_written(engine)


@pytest.mark.parametrize("target", ["@bob@169.254.169.254", "http://169.254.169.254/users/bob",
                                    "@bob@[::ffff:169.254.169.254]"])
def test_blocked_address_is_never_contacted(engine, config, fetcher, target):
    with pytest.raises(FollowError, match="never contacts"):
        following.follow(engine, config, target, fetcher)
    assert _nothing_written(engine)


def test_a_post_is_not_an_actor(engine, config, remote, fetcher):
    note = {"id": f"{remote.base}/notes/1", "type": "Note", "content": "<p>hi</p>"}
    remote.documents["/notes/1"] = (200, AP, note)
    with pytest.raises(FollowError, match="is not an account but a Note document"):
        following.follow(engine, config, note["id"], fetcher)
    assert _nothing_written(engine)


def test_an_html_page_is_not_an_account(engine, config, remote, fetcher):
    remote.documents["/about"] = (200, "text/html", "<html></html>")
    with pytest.raises(FollowError, match="is not a fediverse account this site can follow"):
        following.follow(engine, config, f"{remote.base}/about", fetcher)
    assert _nothing_written(engine)


def test_an_actor_without_inbox_cannot_be_followed(engine, config, remote, fetcher):
    remote.actor("mute", inbox=None)
    with pytest.raises(FollowError, match="without a usable inbox"):
        following.follow(engine, config, f"@mute@{remote.host}", fetcher)
    assert _nothing_written(engine)


def test_unreachable_server(engine, config, fetcher):
    with pytest.raises(FollowError, match="Could not reach the server of @bob@127.0.0.1:9"):
        following.follow(engine, config, "@bob@127.0.0.1:9", fetcher)
    assert _nothing_written(engine)


@pytest.mark.parametrize("target, message", [
    ("", "Enter an account as @user@host"), ("alice", "Enter an account as @user@host"),
    ("@alice@host/path", "is not a handle"), ("ftp://example.org/users/a", "Enter an account"),
    ("@owner@links.test", "this site's own account"), (f"{BASE_URL}/actor", "this site's own account"),
])
def test_targets_that_are_refused_before_any_lookup(engine, config, target, message):
    class NoNetwork:
        def __getattr__(self, name: str) -> Any:
            raise AssertionError("no lookup expected")

    with pytest.raises(FollowError, match=message):
        following.follow(engine, config, target, NoNetwork())  # type: ignore[arg-type]
    assert _nothing_written(engine)


def test_a_blocked_account_is_not_followed(engine, config, remote, fetcher):
    doc = remote.actor("troll")
    with engine.begin() as conn:
        conn.execute(BlockedActor.__table__.insert().values(uri=doc["id"]))
    with pytest.raises(FollowError, match="You blocked @troll@.*unblock them"):
        following.follow(engine, config, f"@troll@{remote.host}", fetcher)
    assert _table(engine, FG) == [] and _activities(engine) == []


def test_follow_inside_the_callers_transaction(engine, config, remote, fetcher):
    """A Connection is used as given: nothing is committed until the caller commits."""
    remote.actor("alice")
    with engine.connect() as conn:
        following.follow(conn, config, f"@alice@{remote.host}", fetcher)
        conn.rollback()
    assert _nothing_written(engine)


# --- the command line ----------------------------------------------------------------------------------


def test_cli_follow_and_unfollow(engine, config, remote, tmp_path: Path):
    remote.actor("alice")
    path = tmp_path / "config.toml"
    path.write_text(f'[site]\nbase_url = "{BASE_URL}"\n[security]\nsecret_key = "{"s" * 40}"\n'
                    f'[database]\nurl = "{config.database_url}"\n[federation]\nallow_private_addresses = true\n')
    runner = CliRunner()

    done = runner.invoke(cli, ["--config", str(path), "follow", f"@alice@{remote.host}"])
    assert done.exit_code == 0, done.output
    assert f"Asked to follow @alice@{remote.host}" in done.output
    again = runner.invoke(cli, ["--config", str(path), "follow", f"@alice@{remote.host}"])
    assert again.exit_code == 0 and "You already follow" in again.output
    gone = runner.invoke(cli, ["--config", str(path), "unfollow", f"alice@{remote.host}"])
    assert gone.exit_code == 0 and f"Unfollowed @alice@{remote.host}." in gone.output
    assert [a["type"] for a, _ in _activities(engine)] == ["Follow", "Undo"]
    bad = runner.invoke(cli, ["--config", str(path), "unfollow", f"alice@{remote.host}"])
    assert bad.exit_code == 1 and "You do not follow" in bad.output


# --- WebFinger answers are verified back with the actor's own host (issue 9, point 10) ---------------------


def _asked(server, host: str) -> list[str]:  # noqa: ANN001
    """The acct: resources ``server``'s WebFinger was asked about."""
    return [parse_qs(urlsplit(path).query)["resource"][0] for path, _ in server.seen
            if path.startswith("/.well-known/webfinger")]


def test_a_handle_another_server_points_at_is_not_stored(engine, config, remote, other_remote, fetcher):
    """other_remote plays evil.example: its WebFinger says @alice@evil is the actor on remote, whose own host
    knows her only as alice@remote. The follow goes to the actor, under the handle her host confirms."""
    doc = remote.actor("alice")
    other_remote.users["alice"] = doc["id"]
    result = following.follow(engine, config, f"@alice@{other_remote.host}", fetcher)
    assert result.changed and result.handle == f"alice@{remote.host}"
    assert f"Asked to follow @alice@{remote.host}" in result.message
    assert f"does not confirm @alice@{other_remote.host} as its handle" in result.message
    [actor] = _table(engine, A)
    assert (actor["uri"], actor["handle"]) == (doc["id"], f"alice@{remote.host}")
    assert f"acct:alice@{other_remote.host}" in _asked(remote, remote.host)   # the actor's host was asked
    assert following.follow(engine, config, f"@alice@{remote.host}", fetcher).changed is False


def test_a_handle_the_actors_host_does_not_confirm_is_refused(engine, config, remote, other_remote, fetcher):
    doc = remote.actor("alice")
    del remote.users["alice"]            # her host's WebFinger knows no alice: nothing vouches for any handle
    other_remote.users["alice"] = doc["id"]
    with pytest.raises(FollowError, match=f"does not confirm that handle.*follow {doc['id']} itself"):
        following.follow(engine, config, f"@alice@{other_remote.host}", fetcher)
    assert _nothing_written(engine)


def test_the_cli_says_why_an_unconfirmed_handle_is_refused(engine, config, remote, other_remote, tmp_path: Path):
    doc = remote.actor("alice")
    del remote.users["alice"]
    other_remote.users["alice"] = doc["id"]
    path = tmp_path / "config.toml"
    path.write_text(f'[site]\nbase_url = "{BASE_URL}"\n[security]\nsecret_key = "{"s" * 40}"\n'
                    f'[database]\nurl = "{config.database_url}"\n[federation]\nallow_private_addresses = true\n')
    refused = CliRunner().invoke(cli, ["--config", str(path), "follow", f"@alice@{other_remote.host}"])
    assert refused.exit_code == 1 and f"{remote.host} does not confirm that handle" in refused.output
    assert _nothing_written(engine)


@pytest.mark.parametrize("how", ["subject", "acct"])
def test_a_split_domain_handle_confirmed_by_the_actors_host_is_kept(engine, config, remote, other_remote, fetcher,
                                                                    how):
    """other_remote is the account domain (example.com), remote the server (social.example.com): the server
    names the account domain as the canonical subject of its own handle, or answers for the account
    domain's handle itself; either way the handle that was looked up is confirmed."""
    doc = remote.actor("alice")
    other_remote.users["alice"] = doc["id"]
    remote.domains.add(other_remote.host)
    if how == "subject":
        remote.subjects["alice"] = f"acct:alice@{other_remote.host}"
    result = following.follow(engine, config, f"@alice@{other_remote.host}", fetcher)
    assert result.handle == f"alice@{other_remote.host}" and "does not confirm" not in result.message
    [actor] = _table(engine, A)
    assert (actor["uri"], actor["handle"]) == (doc["id"], f"alice@{other_remote.host}")


# --- the web form --------------------------------------------------------------------------------------


def test_the_follow_form_follows_through_the_network(app, owner, engine, remote):
    holder = app.extensions["linkblog"]
    holder.config = make_config(holder.config.database_url, **{"federation.allow_private_addresses": True})
    doc = remote.actor("alice")
    response = owner.post("/admin/following", data={"account": f"@alice@{remote.host}", "csrf_token": owner.csrf})
    assert response.status_code == 302 and response.headers["Location"] == "/admin/following"
    [(activity, inboxes)] = _activities(engine)
    assert activity["type"] == "Follow" and activity["object"] == doc["id"] and inboxes == [doc["inbox"]]
    page = owner.get("/admin/following").get_data(as_text=True)
    assert f"Asked to follow @alice@{remote.host}" in page and "waiting for approval" in page
    again = owner.post("/admin/following", data={"account": f"@alice@{remote.host}", "csrf_token": owner.csrf},
                       follow_redirects=True)
    assert "You already follow @alice@" in again.get_data(as_text=True) and len(_activities(engine)) == 1
