"""Moving the account, one server at a time, on both databases: aliases (the actor's alsoKnownAs, the
owner's page and the commands), moving out (refused unless the new account names us; then the Move and
the Update queued to followers), and an inbound Move of an account the owner follows.

Accounts elsewhere are a small fediverse server on 127.0.0.1 (WebFinger and actor documents, from
test_following) reached through the real guarded client; inbound activities are processed with a
fetcher over a dict, as in test_inbox_processing."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, insert, select, update

from linkblog.cli import main as cli
from linkblog.federation import objects as AS
from linkblog.federation import inbox, moving
from linkblog.federation.reading import id_of, single
from linkblog.models import Delivery, Follower, Following, InboxActivity, OutboxActivity, Owner, RemoteActor

from tests.support.app import BASE_URL, make_config
from tests.federation.fakes import NOW, FakeFetch, peer_key

OURS = f"{BASE_URL}/actor"
AP = "application/activity+json"
OLD = "https://old.example/users/alice"
NEW = "https://new.example/users/alice"
O, D, A = OutboxActivity.__table__, Delivery.__table__, RemoteActor.__table__


@pytest.fixture
def config(database_url):
    return make_config(database_url, **{"federation.allow_private_addresses": True})


# --- helpers ------------------------------------------------------------------------------------------------


def owner_row(engine) -> dict[str, Any]:
    with engine.connect() as conn:
        row = conn.execute(select(Owner.also_known_as, Owner.moved_to, Owner.moved_at)).one()
    return dict(row._mapping)


def sent(engine) -> list[tuple[str, dict, list[str]]]:
    """(type, payload, inboxes) of every queued outgoing activity."""
    with engine.connect() as conn:
        found = []
        for activity in conn.execute(select(O.c.id, O.c.type, O.c.payload).order_by(O.c.id)):
            inboxes = conn.execute(select(D.c.inbox).where(D.c.activity_id == activity.id)).scalars().all()
            found.append((activity.type, json.loads(activity.payload), sorted(inboxes)))
    return found


def follower(engine, uri: str, *, shared: str | None = None) -> int:
    with engine.begin() as conn:
        actor_id = conn.execute(insert(RemoteActor).values(uri=uri, inbox=f"{uri}/inbox", shared_inbox=shared,
                                                           handle="").returning(RemoteActor.id)).scalar_one()
        conn.execute(insert(Follower).values(actor_id=actor_id, follow_uri=f"{uri}/follows/1", state="accepted"))
    return actor_id


def followed(engine, uri: str = OLD, state: str = "accepted") -> int:
    with engine.begin() as conn:
        actor_id = conn.execute(insert(RemoteActor).values(uri=uri, inbox=f"{uri}/inbox", handle="")
                                .returning(RemoteActor.id)).scalar_one()
        conn.execute(insert(Following).values(actor_id=actor_id, follow_uri=f"{BASE_URL}/activities/f{actor_id}",
                                              state=state))
    return actor_id


def actor_doc(uri: str, **changes: Any) -> dict[str, Any]:
    name = uri.rsplit("/", 1)[-1]
    host = uri.split("/users/")[0]
    doc = {"id": uri, "type": "Person", "preferredUsername": name, "inbox": f"{uri}/inbox",
           "endpoints": {"sharedInbox": f"{host}/inbox"}, "url": f"{host}/@{name}",
           "publicKey": {"id": f"{uri}#main-key", "owner": uri, "publicKeyPem": peer_key(0)[1]}}
    doc.update(changes)
    return doc


def receive_move(engine, config, fetch: FakeFetch, n: int = 1) -> dict[str, Any]:
    move = {"@context": AS.AS_CONTEXT, "id": f"https://old.example/activities/move{n}", "type": "Move",
            "actor": OLD, "object": OLD, "target": NEW}
    with engine.begin() as conn:
        inbox.store(conn, move, id_of(single(move["actor"])), now=NOW)
    inbox.process_pending(engine, config, fetch)
    return move


def following_rows(engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(A.c.uri, Following.state)
                                               .join(Following, Following.actor_id == A.c.id).order_by(A.c.uri))]


def cli_config(tmp_path: Path, config) -> str:  # noqa: ANN001
    path = tmp_path / "config.toml"
    path.write_text(f'[site]\nbase_url = "{BASE_URL}"\n[security]\nsecret_key = "{"s" * 40}"\n'
                    f'[database]\nurl = "{config.database_url}"\n[federation]\nallow_private_addresses = true\n')
    return str(path)


# --- the actor document -------------------------------------------------------------------------------------


def test_the_actor_lists_aliases_and_movedto_only_when_set():
    cfg = make_config("sqlite://")
    bare = AS.actor_document({"username": "owner", "public_key_pem": "k", "also_known_as": ""}, cfg)
    assert "alsoKnownAs" not in bare and "movedTo" not in bare
    doc = AS.actor_document({"username": "owner", "public_key_pem": "k", "moved_to": NEW,
                             "also_known_as": f"{OLD}\n\n https://other.example/actor \n"}, cfg)
    assert doc["alsoKnownAs"] == [OLD, "https://other.example/actor"] and doc["movedTo"] == NEW
    terms = doc["@context"][2]
    assert terms["alsoKnownAs"] == {"@id": "as:alsoKnownAs", "@type": "@id"}
    assert terms["movedTo"] == {"@id": "as:movedTo", "@type": "@id"}


def test_the_served_actor_carries_what_the_owner_row_says(client, engine):
    assert "alsoKnownAs" not in client.get("/actor", headers={"Accept": AP}).get_json()
    with engine.begin() as conn:
        conn.execute(update(Owner).values(also_known_as=OLD, moved_to=NEW))
    doc = client.get("/actor", headers={"Accept": AP}).get_json()
    assert doc["alsoKnownAs"] == [OLD] and doc["movedTo"] == NEW


# --- aliases --------------------------------------------------------------------------------------------------


def test_adding_an_alias_by_handle_stores_its_actor_id_and_tells_followers(engine, config, remote, fetcher):
    old = remote.actor("alice")
    follower(engine, "https://f.example/users/fan", shared="https://f.example/inbox")
    message = moving.add_alias(engine, config, f"@alice@{remote.host}", fetcher)
    assert message == f"Added @alice@{remote.host} as an alias: it can now move its followers here."
    assert owner_row(engine)["also_known_as"] == old["id"]
    [(kind, update_, inboxes)] = sent(engine)
    assert kind == "Update" and inboxes == ["https://f.example/inbox"]
    assert update_["object"]["id"] == OURS and update_["object"]["alsoKnownAs"] == [old["id"]]
    assert update_["to"] == [AS.PUBLIC]

    again = moving.add_alias(engine, config, old["id"], fetcher)
    assert again == f"@alice@{remote.host} is already an alias of this account."
    assert owner_row(engine)["also_known_as"] == old["id"] and len(sent(engine)) == 1


def test_removing_an_alias_by_handle_or_id(engine, config, remote, fetcher):
    first, second = remote.actor("alice"), remote.actor("bob")
    moving.add_alias(engine, config, f"@alice@{remote.host}", fetcher)
    moving.add_alias(engine, config, second["id"], fetcher)
    assert owner_row(engine)["also_known_as"] == f"{first['id']}\n{second['id']}"
    assert moving.remove_alias(engine, config, f"@ALICE@{remote.host}") == \
        f"Removed @alice@{remote.host} from the aliases."
    assert moving.remove_alias(engine, config, second["id"]) == f"Removed @bob@{remote.host} from the aliases."
    assert owner_row(engine)["also_known_as"] == ""
    with pytest.raises(moving.MoveError, match="is not an alias of this account"):
        moving.remove_alias(engine, config, second["id"])


def test_an_alias_that_cannot_be_resolved_is_a_clear_error(engine, config, remote, fetcher):
    with pytest.raises(moving.FollowError,
                       match=f"There is no account @ghost@{remote.host} .*answered 404"):
        moving.add_alias(engine, config, f"@ghost@{remote.host}", fetcher)
    assert owner_row(engine)["also_known_as"] == "" and sent(engine) == []


def test_the_alias_forms_add_and_remove_and_show_errors(owner, engine, remote):
    old = remote.actor("alice")
    page = owner.get("/admin/account").get_data(as_text=True)
    assert "No aliases yet." in page and f"{OURS}" in page
    assert 'href="/admin/account"' in owner.get("/admin/").get_data(as_text=True)

    added = owner.post("/admin/account/aliases", data={"account": f"@alice@{remote.host}", "csrf_token": owner.csrf})
    assert added.status_code == 302 and added.headers["Location"] == "/admin/account"
    page = owner.get("/admin/account").get_data(as_text=True)
    assert f"Added @alice@{remote.host} as an alias" in page and f"@alice@{remote.host}" in page
    assert owner_row(engine)["also_known_as"] == old["id"]

    failed = owner.post("/admin/account/aliases", data={"account": f"@ghost@{remote.host}", "csrf_token": owner.csrf})
    text = failed.get_data(as_text=True)
    assert failed.status_code == 400 and "Nothing was changed" in text
    assert f"There is no account @ghost@{remote.host}" in text
    assert f'value="@ghost@{remote.host}"' in text   # what the owner typed is kept

    removed = owner.post("/admin/account/aliases/remove", data={"alias": old["id"], "csrf_token": owner.csrf})
    assert removed.status_code == 302 and owner_row(engine)["also_known_as"] == ""


def test_alias_forms_without_the_csrf_token_change_nothing(owner, engine, remote):
    old = remote.actor("alice")
    refused = owner.post("/admin/account/aliases", data={"account": f"@alice@{remote.host}"})
    assert refused.status_code == 400 and "CSRF check failed" in refused.get_data(as_text=True)
    assert owner_row(engine)["also_known_as"] == "" and remote.seen == [] and sent(engine) == []
    with engine.begin() as conn:
        conn.execute(update(Owner).values(also_known_as=old["id"]))
    assert owner.post("/admin/account/aliases/remove", data={"alias": old["id"]}).status_code == 400
    assert owner.post("/admin/account/move", data={"account": old["id"], "confirm": old["id"]}).status_code == 400
    assert owner_row(engine) == {"also_known_as": old["id"], "moved_to": None, "moved_at": None}


def test_the_account_page_is_for_the_owner_only(client):
    response = client.get("/admin/account")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_alias_commands(engine, config, remote, tmp_path):
    old = remote.actor("alice")
    path = cli_config(tmp_path, config)
    runner = CliRunner()
    assert runner.invoke(cli, ["--config", path, "alias", "list"]).output == "no aliases\n"
    added = runner.invoke(cli, ["--config", path, "alias", "add", f"@alice@{remote.host}"])
    assert added.exit_code == 0 and f"Added @alice@{remote.host} as an alias" in added.output
    listed = runner.invoke(cli, ["--config", path, "alias", "list"])
    assert listed.output == f"{old['id']}\t@alice@{remote.host}\n"
    gone = runner.invoke(cli, ["--config", path, "alias", "remove", old["id"]])
    assert gone.exit_code == 0 and owner_row(engine)["also_known_as"] == ""
    bad = runner.invoke(cli, ["--config", path, "alias", "add", f"@ghost@{remote.host}"])
    assert bad.exit_code == 1 and "There is no account @ghost@" in bad.output


# --- moving out -----------------------------------------------------------------------------------------------


def test_moving_to_an_account_that_does_not_name_us_is_refused(engine, config, remote, fetcher):
    remote.actor("newme")
    follower(engine, "https://f.example/users/fan")
    with pytest.raises(moving.MoveError, match=f"Add {OURS} as an alias .* on the new account first, then try "
                                               "again. Nothing was changed."):
        moving.check_target(engine, config, f"@newme@{remote.host}", fetcher)
    assert owner_row(engine) == {"also_known_as": "", "moved_to": None, "moved_at": None}
    assert sent(engine) == []


def test_moving_out_queues_a_move_and_an_update_to_every_follower_server(client, engine, config, remote, fetcher):
    new = remote.actor("newme", alsoKnownAs=[OURS])
    follower(engine, "https://f.example/users/a", shared="https://f.example/inbox")
    follower(engine, "https://f.example/users/b", shared="https://f.example/inbox")
    follower(engine, "https://solo.example/users/c")

    message = moving.move(engine, config, moving.check_target(engine, config, f"@newme@{remote.host}", fetcher))

    assert message.startswith(f"Moved to @newme@{remote.host}: a Move is on its way to 2 follower servers")
    row = owner_row(engine)
    assert row["moved_to"] == new["id"] and row["moved_at"] is not None
    (move_kind, move, move_inboxes), (update_kind, update_, update_inboxes) = sent(engine)
    assert (move_kind, update_kind) == ("Move", "Update")
    assert {k: move[k] for k in ("type", "actor", "object", "target", "to")} == {
        "type": "Move", "actor": OURS, "object": OURS, "target": new["id"], "to": [f"{OURS}/followers"]}
    assert move["id"].startswith(f"{BASE_URL}/activities/")
    assert move_inboxes == update_inboxes == ["https://f.example/inbox", "https://solo.example/users/c/inbox"]
    assert update_["object"]["movedTo"] == new["id"]
    assert client.get("/actor", headers={"Accept": AP}).get_json()["movedTo"] == new["id"]
    home = client.get("/").get_data(as_text=True)
    link = f'<a href="{remote.base}/@newme" rel="nofollow noopener">@newme@{remote.host}</a>'
    assert f"This account has moved to {link}" in home

    assert moving.move(engine, config, moving.check_target(engine, config, new["id"], fetcher)) == \
        f"This account has already moved to @newme@{remote.host}; nothing was sent again."
    assert len(sent(engine)) == 2

    other = remote.actor("third", alsoKnownAs=[OURS])   # moving on again is allowed
    moving.move(engine, config, moving.check_target(engine, config, other["id"], fetcher))
    assert owner_row(engine)["moved_to"] == other["id"]
    assert [k for k, _, _ in sent(engine)] == ["Move", "Update", "Move", "Update"]


def test_the_move_form_wants_the_target_typed_twice(owner, engine, remote):
    new = remote.actor("newme", alsoKnownAs=[OURS])
    target = f"@newme@{remote.host}"
    mismatch = owner.post("/admin/account/move", data={"account": target, "confirm": "@other@example.social",
                                                       "csrf_token": owner.csrf})
    assert mismatch.status_code == 400 and "Type the new account a second time" in mismatch.get_data(as_text=True)
    assert remote.seen == [] and owner_row(engine)["moved_to"] is None

    remote.actor("nolist")
    refused = owner.post("/admin/account/move", data={"account": f"@nolist@{remote.host}",
                                                      "confirm": f"nolist@{remote.host}", "csrf_token": owner.csrf})
    assert refused.status_code == 400 and f"Add {OURS} as an alias" in refused.get_data(as_text=True)
    assert owner_row(engine)["moved_to"] is None and sent(engine) == []

    done = owner.post("/admin/account/move", data={"account": target, "confirm": target.upper(),
                                                   "csrf_token": owner.csrf})
    assert done.status_code == 302 and owner_row(engine)["moved_to"] == new["id"]
    page = owner.get("/admin/account").get_data(as_text=True)
    assert f"Moved to @newme@{remote.host}" in page and "This account moved to" in page


def test_the_move_command_asks_first_unless_yes(engine, config, remote, tmp_path):
    new = remote.actor("newme", alsoKnownAs=[OURS])
    path = cli_config(tmp_path, config)
    runner = CliRunner()
    declined = runner.invoke(cli, ["--config", path, "move", f"@newme@{remote.host}"], input="n\n")
    assert declined.exit_code == 1 and "Aborted" in declined.output
    no_input = runner.invoke(cli, ["--config", path, "move", f"@newme@{remote.host}"])
    assert no_input.exit_code == 1 and owner_row(engine)["moved_to"] is None and sent(engine) == []
    done = runner.invoke(cli, ["--config", path, "move", f"@newme@{remote.host}", "--yes"])
    assert done.exit_code == 0 and "Moved to @newme@" in done.output
    assert owner_row(engine)["moved_to"] == new["id"]


# --- an account the owner follows moves -----------------------------------------------------------------------


def test_a_followed_account_that_moves_is_followed_at_its_new_address(engine, config):
    old_id = followed(engine)
    fetch = FakeFetch({NEW: actor_doc(NEW, alsoKnownAs=[OLD])})
    move = receive_move(engine, config, fetch)

    with engine.connect() as conn:
        assert conn.execute(select(InboxActivity.state).where(InboxActivity.uri == move["id"])).scalar_one() == "done"
        assert conn.execute(select(A.c.moved_to).where(A.c.id == old_id)).scalar_one() == NEW
    assert following_rows(engine) == [(NEW, "pending")]
    (follow_kind, follow, follow_inboxes), (undo_kind, undo, undo_inboxes) = sent(engine)
    assert (follow_kind, follow["object"], follow_inboxes) == ("Follow", NEW, [f"{NEW}/inbox"])
    assert (undo_kind, undo["object"]["type"], undo["object"]["object"]) == ("Undo", "Follow", OLD)
    assert undo["object"]["id"] == f"{BASE_URL}/activities/f{old_id}" and undo_inboxes == [f"{OLD}/inbox"]
    with engine.connect() as conn:
        new_follow = conn.execute(select(Following.follow_uri)).scalar_one()
    assert new_follow == follow["id"]   # the Accept from the new account will name this Follow


def test_a_move_to_an_account_that_does_not_name_the_old_one_changes_nothing(engine, config):
    followed(engine)
    fetch = FakeFetch({NEW: actor_doc(NEW, alsoKnownAs=["https://someone.else/actor"])})
    move = receive_move(engine, config, fetch)
    with engine.connect() as conn:
        assert conn.execute(select(InboxActivity.state).where(InboxActivity.uri == move["id"])).scalar_one() == \
            "ignored"
        assert conn.execute(select(func.count()).select_from(A).where(A.c.moved_to.is_not(None))).scalar_one() == 0
    assert following_rows(engine) == [(OLD, "accepted")] and sent(engine) == []


def test_the_same_move_twice_ends_in_the_same_state(engine, config):
    followed(engine)
    follower(engine, OLD.replace("alice", "fan"))
    fetch = FakeFetch({NEW: actor_doc(NEW, alsoKnownAs=[OLD])})
    receive_move(engine, config, fetch, n=1)
    state = (following_rows(engine), sent(engine))
    second = receive_move(engine, config, fetch, n=2)   # a new id: not deduplicated by the inbox
    with engine.connect() as conn:
        assert conn.execute(select(InboxActivity.state).where(InboxActivity.uri == second["id"])).scalar_one() == \
            "ignored"
    assert (following_rows(engine), sent(engine)) == state
    assert state[0] == [(NEW, "pending")] and [k for k, _, _ in state[1]] == ["Follow", "Undo"]


def test_a_move_to_an_account_already_followed_only_drops_the_old_follow(engine, config):
    followed(engine)
    followed(engine, NEW)
    receive_move(engine, config, FakeFetch({NEW: actor_doc(NEW, alsoKnownAs=[OLD])}))
    assert following_rows(engine) == [(NEW, "accepted")]
    assert [k for k, _, _ in sent(engine)] == ["Undo"]
