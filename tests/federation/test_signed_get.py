"""Signed GETs: followers-only objects for followers' servers, and secure mode (authorized fetch)."""
from __future__ import annotations

import pytest
from datetime import datetime

from sqlalchemy import insert

from linkblog.db import utcnow
from linkblog.models import Follower, RemoteActor, Weeknote

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


# --- answers that depend on who asks are never kept by a shared cache (issue 9, point 6) --------------------


def vary_of(response) -> set[str]:  # noqa: ANN001
    return {name.strip().lower() for name in response.headers.get("Vary", "").split(",") if name.strip()}


def assert_private(response, *decided_by: str) -> None:  # noqa: ANN001
    assert "private" in response.headers.get("Cache-Control", ""), (response.status_code, response.headers)
    assert {name.lower() for name in decided_by} <= vary_of(response), response.headers


def add_weeknote(engine, week: str, visibility: str) -> None:  # noqa: ANN001
    at = datetime(2026, 3, 2, 9, 0, 0)
    with engine.begin() as conn:
        conn.execute(insert(Weeknote).values(week=week, title=week, body="", body_html="<p>x</p>", status="published",
                                             visibility=visibility, created_at=at, updated_at=at, published_at=at))


def test_followers_only_objects_are_private_to_caches_whoever_asks(client, engine, make_bookmark, peer):
    followers_only = make_bookmark("https://example.org/followers", "followers", visibility="followers")
    add_weeknote(engine, "2026-W09", "followers")
    fan = peer.actor("fan")
    make_follower(engine, fan)
    for path in (f"/bookmarks/{followers_only}", "/weeknotes/2026-W09"):
        answer = signed_get(client, fan, path)
        assert answer.status_code == 200, path
        assert_private(answer, "Accept", "Signature", "Signature-Input")
        unsigned = client.get(path, headers={"Accept": AP})     # the 404 a stranger gets is no answer for a fan
        assert unsigned.status_code == 404, path
        assert_private(unsigned, "Accept", "Signature", "Signature-Input")
    public = make_bookmark("https://example.org/public", "public", visibility="public")
    answer = client.get(f"/bookmarks/{public}", headers={"Accept": AP})   # the same for everyone: cacheable
    assert answer.status_code == 200 and "private" not in answer.headers.get("Cache-Control", "")
    assert "accept" in vary_of(answer)
    page = client.get(f"/bookmarks/{public}")                               # the HTML page on the same URL
    assert page.status_code == 200 and {"accept", "cookie"} <= vary_of(page)


def test_secure_mode_answers_are_private_to_caches(app, client, owner, engine, make_bookmark, peer, database_url):
    app.extensions["linkblog"].config = make_config(database_url, **{
        "federation.allow_private_addresses": True, "federation.secure_mode": True, "federation.publish_collections": True})
    bookmark_id = make_bookmark("https://example.org/public", "public", visibility="public")
    add_weeknote(engine, "2026-W09", "public")
    someone = peer.actor("someone")
    paths = (f"/bookmarks/{bookmark_id}", "/weeknotes/2026-W09", "/actor/outbox", "/actor/outbox?page=true",
             "/actor/followers", "/actor/following", "/actor/followers?page=true")
    for path in paths:
        signed_answer = signed_get(client, someone, path)
        assert signed_answer.status_code == 200, (path, signed_answer.data)
        assert_private(signed_answer, "Signature", "Signature-Input", "Cookie")
        refused = client.get(path, headers={"Accept": AP})
        assert refused.status_code == 401, path
        assert_private(refused, "Signature", "Signature-Input", "Cookie")
        mine = owner.get(path, headers={"Accept": AP})                   # the owner's browser is let in
        assert mine.status_code == 200, path
        assert_private(mine, "Signature", "Signature-Input", "Cookie")
        assert "no-store" in mine.headers["Cache-Control"]
    for negotiated in (f"/bookmarks/{bookmark_id}", "/weeknotes/2026-W09"):
        assert "accept" in vary_of(signed_get(client, someone, negotiated)), negotiated
    actor = client.get("/actor", headers={"Accept": AP})                 # the same for everyone, by Accept
    assert actor.status_code == 200 and "accept" in vary_of(actor)


@pytest.mark.parametrize("mode", ["early-hints", "headers"])
def test_a_signed_get_whose_key_server_never_finishes_answers_within_fetch_timeout(app, client, make_bookmark,
                                                                                     database_url, mode):
    """The key server sends 103 forever, or trickles its headers: the check gives up at the deadline and
    the GET is answered as unsigned (404 for a followers-only item) instead of holding the thread."""
    import threading
    import time

    from tests.support.slow_peer import SlowPeer

    app.extensions["linkblog"].config = make_config(database_url, **{
        "federation.allow_private_addresses": True, "federation.fetch_timeout": 1})
    path = f"/bookmarks/{make_bookmark('https://example.org/f', 'followers', visibility='followers')}"
    private_pem = peer_key(0)[0]
    outcome: dict = {}
    with SlowPeer(mode) as slow:
        headers = signed(f"http://links.test{path}", b"", f"{slow.base}/users/slow#main-key", private_pem, NOW,
                         method="GET")

        def ask() -> None:
            started = time.monotonic()
            outcome["status"] = client.get(path, headers={**headers, "Accept": AP}).status_code
            outcome["seconds"] = time.monotonic() - started

        thread = threading.Thread(target=ask, daemon=True)
        thread.start()
        thread.join(15)
        assert not thread.is_alive(), "the signed GET was still waiting for the key after 15 s"
        assert slow.requests, "the key server was asked"
    assert outcome["status"] == 404
    assert outcome["seconds"] < 3
