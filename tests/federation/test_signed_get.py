"""Signed GETs: followers-only objects for followers' servers, and secure mode (authorized fetch)."""
from __future__ import annotations

import pytest
from sqlalchemy import insert

from linkblog.db import utcnow
from linkblog.models import Follower, RemoteActor

from tests.support.app import BASE_URL, make_config
from tests.federation.fakes import NOW, peer_key, signed

pytestmark = pytest.mark.usefixtures("clock", "loopback_only", "forget_failed_keys")  # a fixed clock, no DNS

AP = "application/activity+json"


@pytest.fixture
def config(database_url):
    return make_config(database_url, **{"federation.allow_private_addresses": True})


def signed_get(client, actor, path: str, *, key_index: int | None = None):  # noqa: ANN001, ANN201
    headers = signed(f"http://links.test{path}", b"", actor.key_id,
                     peer_key(actor.key_index if key_index is None else key_index)[0], NOW, method="GET")
    return client.get(path, headers={**headers, "Accept": AP})


def make_follower(engine, actor) -> None:  # noqa: ANN001
    with engine.begin() as conn:
        actor_id = conn.execute(insert(RemoteActor).values(
            uri=actor.uri, inbox=actor.inbox, handle=f"{actor.name}@x", display_name="", fetched_at=utcnow(),
            created_at=utcnow()).returning(RemoteActor.id)).scalar_one()
        conn.execute(insert(Follower).values(actor_id=actor_id, follow_uri=actor.uri + "#f", state="accepted",
                                             created_at=utcnow()))


def test_followers_only_objects_are_for_followers_servers_only(client, engine, make_bookmark, peer):
    bookmark_id = make_bookmark("https://example.org/followers", "followers", visibility="followers")
    path = f"/bookmarks/{bookmark_id}"
    stranger = peer.actor("stranger")
    fan = peer.actor("fan", key_index=1)
    make_follower(engine, fan)
    assert client.get(path, headers={"Accept": AP}).status_code == 404           # unsigned
    assert signed_get(client, stranger, path).status_code == 404                 # signed, not a follower
    assert signed_get(client, fan, path, key_index=2).status_code == 404         # a follower's name, wrong key
    answer = signed_get(client, fan, path)
    assert answer.status_code == 200 and answer.get_json()["id"] == f"{BASE_URL}{path}"
    private = make_bookmark("https://example.org/private", "private", visibility="private")
    assert signed_get(client, fan, f"/bookmarks/{private}").status_code == 404   # private never leaves


def test_secure_mode_answers_only_signed_fetches(app, client, make_bookmark, peer, database_url):
    app.extensions["linkblog"].config = make_config(database_url, **{
        "federation.allow_private_addresses": True, "federation.secure_mode": True})
    bookmark_id = make_bookmark("https://example.org/public", "public", visibility="public")
    path = f"/bookmarks/{bookmark_id}"
    someone = peer.actor("someone")
    for unsigned in (path, "/actor/outbox", "/actor/followers"):
        assert client.get(unsigned, headers={"Accept": AP}).status_code == 401, unsigned
    assert signed_get(client, someone, path).status_code == 200
    assert signed_get(client, someone, "/actor/outbox").status_code == 200
    assert client.get("/actor", headers={"Accept": AP}).status_code == 200        # our key must stay readable
    assert client.get(path).status_code == 200                                   # browsers get the HTML page


# --- a signature is bound to our host and the path it was made for (issue 9, point 2) ------------------------


def replayed_get(client, actor, path: str, *, signed_for: str, scheme: str):  # noqa: ANN001, ANN201
    """A real signature made for ``signed_for`` (another server's copy of a path, say), sent to us as it was
    captured: headers (Host included) unchanged, on ``path``."""
    headers = signed(signed_for, b"", actor.key_id, actor.private_pem, NOW, method="GET", scheme=scheme)
    return client.get(path, headers={**headers, "Accept": AP})


@pytest.mark.parametrize("scheme", ["cavage", "rfc9421"])
def test_a_followers_signature_for_another_host_or_path_does_not_read_followers_only_posts(
        client, engine, make_bookmark, peer, scheme):
    bookmark_id = make_bookmark("https://example.org/followers", "followers", visibility="followers")
    other = make_bookmark("https://example.org/other", "other", visibility="followers")
    path = f"/bookmarks/{bookmark_id}"
    fan = peer.actor("fan")
    make_follower(engine, fan)
    for signed_for in (f"http://other.example{path}",        # captured on another server, replayed here
                       f"http://links.test:8080{path}",       # another authority of the same name
                       f"http://links.test/bookmarks/{other}"):   # made for another of our paths
        answer = replayed_get(client, fan, path, signed_for=signed_for, scheme=scheme)
        assert answer.status_code == 404, (signed_for, answer.data)
    answer = replayed_get(client, fan, path, signed_for=f"http://links.test{path}", scheme=scheme)
    assert answer.status_code == 200 and answer.get_json()["id"] == f"{BASE_URL}{path}"


@pytest.mark.parametrize("scheme", ["cavage", "rfc9421"])
def test_secure_mode_refuses_a_signature_made_for_another_host(app, client, make_bookmark, peer, database_url,
                                                               scheme):
    app.extensions["linkblog"].config = make_config(database_url, **{
        "federation.allow_private_addresses": True, "federation.secure_mode": True})
    bookmark_id = make_bookmark("https://example.org/public", "public", visibility="public")
    someone = peer.actor("someone")
    for path in (f"/bookmarks/{bookmark_id}", "/actor/outbox", "/actor/followers"):
        answer = replayed_get(client, someone, path, signed_for=f"http://other.example{path}", scheme=scheme)
        assert answer.status_code == 401, (path, answer.data)
        answer = replayed_get(client, someone, path, signed_for=f"http://links.test{path}", scheme=scheme)
        assert answer.status_code == 200, (path, answer.data)
