"""Our documents as other servers read them: the actor, the outbox and its pages, the followers and
following collections, and single bookmarks and weeknotes (or their tombstones), built on the fly.

What is served: public and unlisted items to anyone; followers-only items only when the reader turns out
to be an accepted follower (the caller says who signed the fetch); private items and drafts never. The
outbox is built from public bookmarks and weeknotes as they are now (never from stored payloads), so an
item made private later disappears from it at once. Plain functions of a connection and the config: the
web layer decides what the request asked for and how to answer.
"""
from __future__ import annotations

from typing import Any, Callable

from sqlalchemy import Connection, Row, func, select

from ..queries import bookmarks as bookmark_reads, weeknotes as weeknote_reads
from ..queries.owner import is_the_owner
from ..queries.paging import Cursor
from ..queries.stream import stream
from ..config import Config
from ..models import AVATARS, BOOKMARKS, FOLLOWERS, FOLLOWING, OWNER_TABLE, REMOTE_ACTORS, TOMBSTONES, WEEKNOTES
from ..states import FollowState, Visibility, WeeknoteStatus
from . import activities, objects as AS

SERVED = (Visibility.PUBLIC, Visibility.UNLISTED)
OUTBOX_PAGE_SIZE = 20
COLLECTION_PAGE_SIZE = 50
COLLECTIONS = {"followers": FOLLOWERS, "following": FOLLOWING}

Signer = Callable[[], "str | None"]


class BadCursor(ValueError):
    """A page link's ``before`` value is not one we hand out."""


def owner(conn: Connection) -> Row[Any] | None:
    """What the actor document is built from: the owner's row with the avatar's media type."""
    return conn.execute(select(OWNER_TABLE.c.username, OWNER_TABLE.c.display_name, OWNER_TABLE.c.summary,
                               OWNER_TABLE.c.summary_html, OWNER_TABLE.c.avatar_digest,
                               AVATARS.c.media_type.label("avatar_type"), OWNER_TABLE.c.public_key_pem,
                               OWNER_TABLE.c.created_at, OWNER_TABLE.c.also_known_as, OWNER_TABLE.c.moved_to)
                        .outerjoin(AVATARS, AVATARS.c.digest == OWNER_TABLE.c.avatar_digest)
                        .where(is_the_owner())).first()


def local_post_count(conn: Connection) -> int:
    """Public bookmarks plus published public weeknotes: what anyone may see listed."""
    bookmarks = conn.execute(select(func.count()).select_from(BOOKMARKS)
                             .where(BOOKMARKS.c.visibility == Visibility.PUBLIC)).scalar_one()
    weeknotes = conn.execute(select(func.count()).select_from(WEEKNOTES).where(
        WEEKNOTES.c.status == WeeknoteStatus.PUBLISHED, WEEKNOTES.c.visibility == Visibility.PUBLIC)).scalar_one()
    return bookmarks + weeknotes


# --- The outbox -----------------------------------------------------------------------------------------


def _via_handles(conn: Connection, bookmark_ids: list[int]) -> dict[int, dict[str, Any]]:
    """via_actor_uri, via_post_uri and the via author's handle for these bookmarks, in one query."""
    if not bookmark_ids:
        return {}
    rows = conn.execute(
        select(BOOKMARKS.c.id, BOOKMARKS.c.via_actor_uri, BOOKMARKS.c.via_post_uri, REMOTE_ACTORS.c.handle)
        .outerjoin(REMOTE_ACTORS, REMOTE_ACTORS.c.uri == BOOKMARKS.c.via_actor_uri)
        .where(BOOKMARKS.c.id.in_(bookmark_ids), BOOKMARKS.c.via_actor_uri.is_not(None)))
    return {r.id: {"via_actor_uri": r.via_actor_uri, "via_post_uri": r.via_post_uri, "handle": r.handle or None}
            for r in rows}


def _bookmark_note(config: Config, item: dict[str, Any], via: dict[str, Any] | None) -> dict[str, Any]:
    if via:
        item = {**item, "via_actor_uri": via["via_actor_uri"], "via_post_uri": via["via_post_uri"]}
    return AS.bookmark_note(item, config, via_handle=via["handle"] if via else None)


def outbox(conn: Connection, config: Config) -> dict[str, Any]:
    """The outbox itself: the count and where its first page is."""
    return AS.outbox_collection(config, local_post_count(conn), f"{AS.urls(config).outbox}?page=true")


def outbox_page(conn: Connection, config: Config, before: str | None) -> dict[str, Any]:
    """20 Creates, newest first, keyset-paged by ``before`` (a paging Cursor) so every page costs the same
    three queries. Raises BadCursor for a ``before`` we never made."""
    cursor = Cursor.decode(before)
    if before and cursor is None:
        raise BadCursor(before)
    u = AS.urls(config)
    first = f"{u.outbox}?page=true"
    page = stream(conn, owner=False, size=OUTBOX_PAGE_SIZE, cursor=cursor)
    via = _via_handles(conn, [i["id"] for i in page.items if i["kind"] == "b"])
    items = []
    for item in page.items:
        obj = (_bookmark_note(config, item, via.get(item["id"])) if item["kind"] == "b"
               else AS.weeknote_object(item, config))
        items.append(activities.create(obj, config, activity_id=AS.stable_activity_id(config, obj["id"])))
    page_id = f"{first}&before={before}" if before else first
    next_url = f"{first}&before={page.next}" if page.next else None
    return AS.outbox_page(page_id, items, part_of=u.outbox, next_url=next_url)


# --- Followers and following ----------------------------------------------------------------------------


def collection(conn: Connection, config: Config, name: str, *, publish: bool) -> dict[str, Any]:
    """``name`` is "followers" or "following": the count always, the first page's URL only when members
    are published."""
    collection_id = getattr(AS.urls(config), name)
    table = COLLECTIONS[name]
    total = conn.execute(select(func.count()).select_from(table)
                         .where(table.c.state == FollowState.ACCEPTED)).scalar_one()
    return AS.collection(collection_id, total, f"{collection_id}?page=true" if publish else None)


def collection_page(conn: Connection, config: Config, name: str, before: str) -> dict[str, Any]:
    """Accepted members' actor ids, newest first, 50 a page, paged by row id. Raises BadCursor for a
    ``before`` that is not a number."""
    if before and not before.isdigit():
        raise BadCursor(before)
    collection_id = getattr(AS.urls(config), name)
    table = COLLECTIONS[name]
    first = f"{collection_id}?page=true"
    query = (select(table.c.id, REMOTE_ACTORS.c.uri).join(REMOTE_ACTORS, REMOTE_ACTORS.c.id == table.c.actor_id)
             .where(table.c.state == FollowState.ACCEPTED))
    if before:
        query = query.where(table.c.id < int(before))
    rows = conn.execute(query.order_by(table.c.id.desc()).limit(COLLECTION_PAGE_SIZE + 1)).all()
    shown = rows[:COLLECTION_PAGE_SIZE]
    next_url = f"{first}&before={shown[-1].id}" if len(rows) > COLLECTION_PAGE_SIZE else None
    page_id = f"{first}&before={before}" if before else first
    return AS.collection_page(page_id, [r.uri for r in shown], part_of=collection_id, next_url=next_url)


# --- Single objects -------------------------------------------------------------------------------------


def is_follower(conn: Connection, actor_uri: str | None) -> bool:
    if not actor_uri:
        return False
    return conn.execute(select(FOLLOWERS.c.id).join(REMOTE_ACTORS, REMOTE_ACTORS.c.id == FOLLOWERS.c.actor_id)
                        .where(REMOTE_ACTORS.c.uri == actor_uri, FOLLOWERS.c.state == FollowState.ACCEPTED)
                        ).first() is not None


def may_read(conn: Connection, visibility: str, signer: Signer) -> bool:
    """Public and unlisted for anyone; followers-only for a signed fetch by an accepted follower.
    ``signer`` (who signed this fetch) is asked only for followers-only items: checking costs a key."""
    if visibility in SERVED:
        return True
    if visibility != Visibility.FOLLOWERS:
        return False
    return is_follower(conn, signer())


def bookmark(conn: Connection, config: Config, bookmark_id: int, signer: Signer) -> dict[str, Any] | None:
    """A bookmark as a Note, or None when there is none this reader may see."""
    item = bookmark_reads.bookmark(conn, bookmark_id)
    if item is None or not may_read(conn, item["visibility"], signer):
        return None
    via = _via_handles(conn, [bookmark_id]).get(bookmark_id)
    return _bookmark_note(config, item, via)


def weeknote(conn: Connection, config: Config, week: str, signer: Signer) -> dict[str, Any] | None:
    """A published weeknote as a Note or Article, or None when there is none this reader may see."""
    note = weeknote_reads.weeknote(conn, week)
    if note is None or note["status"] != WeeknoteStatus.PUBLISHED or not may_read(conn, note["visibility"], signer):
        return None
    return AS.weeknote_object(note, config)


def tombstone(conn: Connection, object_id: str) -> dict[str, Any] | None:
    """The Tombstone of an object we deleted, or None if we never served it."""
    row = conn.execute(select(TOMBSTONES.c.former_type, TOMBSTONES.c.deleted_at)
                       .where(TOMBSTONES.c.uri == object_id)).first()
    return None if row is None else AS.tombstone(object_id, row.former_type, row.deleted_at)
