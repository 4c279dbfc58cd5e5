"""What followers are told when the owner saves, edits or deletes something.

Called inside the transaction that changes the item, so the activity and its delivery rows commit (or
roll back) together with the change: a crash can never lose a post or send one that was not saved.
"""
from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, insert, select

from ..config import Config
from ..db import utcnow
from .. import settings
from ..models import BOOKMARKS, FOLLOWERS, REMOTE_ACTORS, TOMBSTONES, WEEKNOTES
from ..states import FollowState, Visibility, WeeknoteStatus
from . import activities, documents, objects
from .delivery import queue
from .reading import as_list, id_of, is_public

FEDERATED = (Visibility.PUBLIC, Visibility.UNLISTED, Visibility.FOLLOWERS)


def follower_inboxes(conn: Connection) -> list[str]:
    """Accepted followers' inboxes, one shared inbox per server where offered."""
    rows = conn.execute(select(REMOTE_ACTORS.c.inbox, REMOTE_ACTORS.c.shared_inbox)
                        .join(FOLLOWERS, FOLLOWERS.c.actor_id == REMOTE_ACTORS.c.id)
                        .where(FOLLOWERS.c.state == FollowState.ACCEPTED)).all()
    return sorted({shared or inbox for inbox, shared in rows if (shared or inbox)})


def _actor_inbox(conn: Connection, uri: str | None) -> tuple[list[str], str | None]:
    if not uri:
        return [], None
    row = conn.execute(select(REMOTE_ACTORS.c.inbox, REMOTE_ACTORS.c.shared_inbox, REMOTE_ACTORS.c.handle)
                       .where(REMOTE_ACTORS.c.uri == uri)).first()
    if row is None:
        return [], None
    return [row.shared_inbox or row.inbox] if (row.shared_inbox or row.inbox) else [], row.handle or None


def send(conn: Connection, activity: dict[str, Any], inboxes: list[str]) -> None:
    """Queue ``activity`` for these inboxes (in this transaction); public ones also show in the outbox."""
    public = any(is_public(a) for a in as_list(activity.get("to")))  # the outbox lists these
    obj = activity.get("object")
    queue(conn, uri=activity["id"], type_=activity["type"], object_uri=id_of(obj) or "",
          payload=json.dumps(activity, separators=(",", ":"), ensure_ascii=False), public=public,
          inboxes=inboxes)


def bookmark_saved(conn: Connection, config: Config, bookmark_id: int, *, before: str | None,
                   changed: bool = True) -> str | None:
    """After a create (``before`` None) or an edit (``before`` = the old visibility): Create, Update or
    Delete as the visibility change demands; returns the activity type queued, if any."""
    row = conn.execute(select(BOOKMARKS).where(BOOKMARKS.c.id == bookmark_id)).mappings().one()
    now_federated = row["visibility"] in FEDERATED
    was_federated = before in FEDERATED
    if not now_federated:
        if was_federated:
            send(conn, activities.delete(objects.urls(config).bookmark(bookmark_id), config, visibility=before),
                 follower_inboxes(conn))
            return "Delete"
        return None
    if was_federated and not changed:
        return None
    extra_inboxes, via_handle = _actor_inbox(conn, row["via_actor_uri"]) if row["visibility"] != Visibility.FOLLOWERS \
        else ([], None)
    note = objects.bookmark_note(row, config, via_handle=via_handle)
    activity = activities.update(note, config) if was_federated else activities.create(note, config)
    send(conn, activity, follower_inboxes(conn) + extra_inboxes)
    return activity["type"]


def bookmark_deleted(conn: Connection, config: Config, bookmark_id: int, *, visibility: str) -> str | None:
    """After a delete: a Tombstone for its id, and a Delete to whoever could see it."""
    if visibility not in FEDERATED:
        return None
    object_id = objects.urls(config).bookmark(bookmark_id)
    _tombstone(conn, object_id, "Note")
    send(conn, activities.delete(object_id, config, visibility=visibility), follower_inboxes(conn))
    return "Delete"


def _weeknote_federated(row: Any) -> bool:
    return row is not None and row["status"] == WeeknoteStatus.PUBLISHED and row["visibility"] in FEDERATED


def weeknote_saved(conn: Connection, config: Config, week: str, *, before: dict[str, Any] | None,
                   changed: bool = True) -> str | None:
    """``before`` is the row as it was (None for a new note); publishing sends Create, edits Update,
    unpublishing or making it private sends Delete."""
    row = conn.execute(select(WEEKNOTES).where(WEEKNOTES.c.week == week)).mappings().one()
    was, now = _weeknote_federated(before), _weeknote_federated(row)
    kind = config.get("federation", "weeknote_type")
    if not now:
        if was:
            send(conn, activities.delete(objects.urls(config).weeknote(week), config, former_type=kind,
                                         visibility=before["visibility"]), follower_inboxes(conn))
            return "Delete"
        return None
    if was and not changed:
        return None
    conn.execute(TOMBSTONES.delete().where(TOMBSTONES.c.uri == objects.urls(config).weeknote(week)))  # published again
    obj = objects.weeknote_object(row, config)
    activity = activities.update(obj, config) if was else activities.create(obj, config)
    send(conn, activity, follower_inboxes(conn))
    return activity["type"]


def weeknote_deleted(conn: Connection, config: Config, before: dict[str, Any]) -> str | None:
    if not _weeknote_federated(before):
        return None
    kind = config.get("federation", "weeknote_type")
    object_id = objects.urls(config).weeknote(before["week"])
    _tombstone(conn, object_id, kind)
    send(conn, activities.delete(object_id, config, former_type=kind, visibility=before["visibility"]),
         follower_inboxes(conn))
    return "Delete"


def _tombstone(conn: Connection, object_id: str, former_type: str) -> None:
    if conn.execute(select(TOMBSTONES.c.id).where(TOMBSTONES.c.uri == object_id)).first() is None:
        conn.execute(insert(TOMBSTONES).values(uri=object_id, former_type=former_type, deleted_at=utcnow()))


def actor_updated(conn: Connection, config: Config) -> str:
    """After any change to the owner's actor (aliases, a move): an Update carrying the new document, so
    followers' servers see it now rather than when their cached copy expires. Returns the type queued."""
    # The stored settings over config (follow approval), exactly as /actor serves it.
    send(conn, activities.actor_update(documents.owner(conn), settings.load(conn, config)), follower_inboxes(conn))
    return "Update"
