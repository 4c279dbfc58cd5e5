"""The owner answering posts on the network page: a Like, or a short public reply.

Queued like every other activity, in the transaction that decides it; the author's server gets it
signed by the worker.
"""
from __future__ import annotations

import html
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Connection, select

from ..config import Config
from ..markup import render_markdown
from ..models import REMOTE_ACTORS, REMOTE_POSTS
from . import activities, objects
from .publish import follower_inboxes, send

REPLY_MAX = 5000


class ResponseError(ValueError):
    pass


def _post(conn: Connection, post_id: int) -> Any:
    row = conn.execute(select(REMOTE_POSTS.c.uri, REMOTE_ACTORS.c.uri.label("actor"), REMOTE_ACTORS.c.inbox,
                              REMOTE_ACTORS.c.shared_inbox, REMOTE_ACTORS.c.handle)
                       .join(REMOTE_ACTORS, REMOTE_ACTORS.c.id == REMOTE_POSTS.c.actor_id)
                       .where(REMOTE_POSTS.c.id == post_id)).first()
    if row is None:
        raise ResponseError("That post is no longer here.")
    return row


def like_post(conn: Connection, config: Config, post_id: int) -> dict[str, Any]:
    post = _post(conn, post_id)
    activity = activities.like(post.uri, config, object_actor=post.actor)
    send(conn, activity, [post.shared_inbox or post.inbox])
    return activity


def reply_to_post(conn: Connection, config: Config, post_id: int, text: str) -> dict[str, Any]:
    """A public Note in reply to the post, mentioning its author (Mastodon threads and notifies)."""
    text = (text or "").strip()
    if not text:
        raise ResponseError("Write something to reply.")
    if len(text) > REPLY_MAX:
        raise ResponseError(f"A reply can be at most {REPLY_MAX:,} characters.")
    post = _post(conn, post_id)
    u = objects.urls(config)
    handle = post.handle or post.actor
    mention = (f'<span class="h-card"><a href="{html.escape(post.actor)}" class="u-url mention">'
               f"@<span>{html.escape(handle.split('@')[0])}</span></a></span>")
    body = render_markdown(text)
    content = body.replace("<p>", f"<p>{mention} ", 1) if body.startswith("<p>") else f"<p>{mention}</p>{body}"
    note_id = u.activity()
    note = {"@context": objects.OBJECT_CONTEXT, "id": note_id, "type": "Note", "attributedTo": u.actor,
            "inReplyTo": post.uri, "content": content, "published": objects.iso(datetime.now(timezone.utc)),
            "to": [objects.PUBLIC], "cc": [u.followers, post.actor],
            "tag": [{"type": "Mention", "href": post.actor, "name": "@" + handle}]}
    activity = activities.create(note, config)
    send(conn, activity, [post.shared_inbox or post.inbox] + follower_inboxes(conn))
    return activity
