"""Remote times outside 1970 .. now + 1 day are not believed (FEDERATION.md, "Limits" / "Per activity"), and
no page answers 500 on any stored time, even in a time zone where year 1 or 9999 has no local date."""
from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import insert, select

from linkblog.federation import inbox
from linkblog.federation.fetcher import fetch_client
from linkblog.models import InboxActivity, Interaction, RemoteActor, RemotePost

from tests.federation.fakes import NOW
from tests.support.app import BASE_URL, make_config

pytestmark = pytest.mark.usefixtures("clock", "loopback_only", "forget_failed_keys")

ZONES = ["Pacific/Kiritimati", "America/Los_Angeles"]   # UTC+14 (year 9999 overflows), UTC-8 (year 1 does)
EXTREMES = ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "0001-01-01T00:00:00+14:00", "1969-12-31T23:59:59Z",
            "2999-01-01T00:00:00Z"]


@pytest.fixture(params=ZONES)
def config(request, database_url):
    return make_config(database_url, **{"federation.allow_private_addresses": True, "site.timezone": request.param})


def process(engine, config) -> None:
    while inbox.process_pending(engine, config, fetch_client(config)):
        pass


@pytest.mark.parametrize("stamp", EXTREMES)
def test_a_reply_and_a_like_with_an_absurd_time_are_stored_at_their_arrival(client, owner, engine, config, peer,
                                                                          make_bookmark, stamp):
    alice = peer.actor("alice")
    bookmark_id = make_bookmark.row(created_at=NOW)
    target = f"{BASE_URL}/bookmarks/{bookmark_id}"
    reply = peer.note(alice, inReplyTo=target, published=stamp, updated=stamp)
    create = peer.activity(alice, "Create", reply, published=stamp)
    like = peer.activity(alice, "Like", target, published=stamp)
    for activity in (create, like):
        assert peer.post(client, alice, activity, now=NOW).status_code == 202
    process(engine, config)
    assert owner.get(f"/bookmarks/{bookmark_id}").status_code == 200
    assert owner.get("/admin/interactions").status_code == 200
    with engine.connect() as conn:
        arrived = dict(conn.execute(select(InboxActivity.uri, InboxActivity.processed_at)).all())
        stored = conn.execute(select(Interaction.kind, Interaction.activity_uri, Interaction.published,
                                     Interaction.updated_at).order_by(Interaction.id)).all()
    assert [(kind, published, updated) for kind, _, published, updated in stored] == [
        ("reply", arrived[create["id"]], arrived[create["id"]]), ("like", arrived[like["id"]], arrived[like["id"]])]


def test_a_sane_remote_time_is_kept(client, engine, config, peer, make_bookmark):
    alice = peer.actor("alice")
    bookmark_id = make_bookmark.row(created_at=NOW)
    reply = peer.note(alice, inReplyTo=f"{BASE_URL}/bookmarks/{bookmark_id}", published="2001-02-03T04:05:06Z",
                      updated="2026-03-02T12:30:00Z")
    assert peer.post(client, alice, peer.activity(alice, "Create", reply), now=NOW).status_code == 202
    process(engine, config)
    with engine.connect() as conn:
        times = conn.execute(select(Interaction.published, Interaction.updated_at)).one()
    assert tuple(times) == (datetime(2001, 2, 3, 4, 5, 6), datetime(2026, 3, 2, 12, 30))


@pytest.mark.parametrize("moment", [datetime(9999, 12, 31, 23, 59, 59), datetime(1, 1, 1)])
def test_pages_render_times_already_stored_out_of_range(client, owner, engine, config, make_bookmark, moment):
    """Rows stored before the clamp (or by anything else) still render: in UTC when there is no local date."""
    bookmark_id = make_bookmark.row(created_at=moment, updated_at=moment)
    with engine.begin() as conn:
        actor_id = conn.execute(insert(RemoteActor).values(uri="https://remote.example/users/bob", inbox="",
                                                           handle="bob@remote.example")
                                .returning(RemoteActor.id)).scalar_one()
        for kind in ("reply", "like"):
            uri = f"https://remote.example/{kind}/1"
            conn.execute(insert(Interaction).values(
                kind=kind, uri=uri, activity_uri=uri, actor_id=actor_id, target_kind="b", target_id=bookmark_id,
                content_html="<p>hi</p>" if kind == "reply" else "", state="visible", published=moment,
                updated_at=moment))
        conn.execute(insert(RemotePost).values(uri="https://remote.example/notes/1", actor_id=actor_id,
                                               link_url="https://example.org/x", content_html="<p>x</p>",
                                               published=moment, created_at=moment))
    for path in (f"/bookmarks/{bookmark_id}", "/admin/interactions", "/", "/admin/", "/network"):
        response = owner.get(path)
        assert response.status_code == 200, path
    page = owner.get(f"/bookmarks/{bookmark_id}").get_data(as_text=True)
    assert f"{moment.day} {moment:%b} {moment.year}" in page
    assert client.get(f"/bookmarks/{bookmark_id}").status_code == 200
