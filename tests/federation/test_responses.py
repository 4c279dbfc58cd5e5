"""The owner liking and replying to posts on the network page: what gets queued, to whom."""
from __future__ import annotations

import json

from sqlalchemy import insert, select

from linkblog.db import utcnow
from linkblog.models import Delivery, Following, OutboxActivity, RemoteActor, RemotePost


def network_post(engine) -> int:
    with engine.begin() as conn:
        actor = conn.execute(insert(RemoteActor).values(
            uri="https://remote.example/users/ann", inbox="https://remote.example/users/ann/inbox",
            shared_inbox="https://remote.example/inbox", handle="ann@remote.example", display_name="Ann",
            fetched_at=utcnow(), created_at=utcnow()).returning(RemoteActor.id)).scalar_one()
        conn.execute(insert(Following).values(actor_id=actor, follow_uri="https://links.test/activities/f",
                                              state="accepted", created_at=utcnow()))
        return conn.execute(insert(RemotePost).values(
            uri="https://remote.example/notes/1", actor_id=actor, link_url="https://article.example/x",
            title="An article", content_html="<p>Look</p>", published=utcnow(), created_at=utcnow())
            .returning(RemotePost.id)).scalar_one()


def sent(engine) -> list[tuple[dict, str]]:
    with engine.connect() as conn:
        rows = conn.execute(select(OutboxActivity.payload, Delivery.inbox)
                            .join(Delivery, Delivery.activity_id == OutboxActivity.id)).all()
    return [(json.loads(p), inbox) for p, inbox in rows]


def test_like_goes_to_the_author(owner, engine):
    post_id = network_post(engine)
    response = owner.post(f"/network/{post_id}/like", data={"csrf_token": owner.csrf})
    assert response.status_code == 302
    [(activity, inbox)] = sent(engine)
    assert activity["type"] == "Like" and activity["object"] == "https://remote.example/notes/1"
    assert inbox == "https://remote.example/inbox"


def test_reply_is_a_public_note_mentioning_the_author(owner, engine):
    post_id = network_post(engine)
    response = owner.post(f"/network/{post_id}/reply", data={"csrf_token": owner.csrf,
                                                             "content": "Great *find* <script>x</script>"})
    assert response.status_code == 302
    [(activity, inbox)] = sent(engine)
    note = activity["object"]
    assert activity["type"] == "Create" and note["inReplyTo"] == "https://remote.example/notes/1"
    assert "<em>find</em>" in note["content"] and "<script>" not in note["content"]
    assert note["tag"] == [{"type": "Mention", "href": "https://remote.example/users/ann", "name": "@ann@remote.example"}]
    assert "https://remote.example/users/ann" in note["cc"] and "summary" not in note


def test_empty_reply_and_missing_post_change_nothing(owner, engine, client):
    post_id = network_post(engine)
    owner.post(f"/network/{post_id}/reply", data={"csrf_token": owner.csrf, "content": "  "})
    owner.post("/network/9999/like", data={"csrf_token": owner.csrf})
    assert client.post(f"/network/{post_id}/like").status_code in (302, 400)
    owner.post(f"/network/{post_id}/like")  # no CSRF token
    assert sent(engine) == []
