"""Reads for the fediverse pages and the responses under items: accounts, follows, interactions,
deliveries and the network page, each one statement whatever the number of rows."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Sequence

from sqlalchemy import Connection, Row, RowMapping, and_, func, or_, select

from ..models import (BLOCKED_ACTORS, BOOKMARKS, DELIVERIES, FOLLOWERS, FOLLOWING, INTERACTIONS, OUTBOX_ACTIVITIES,
                      REMOTE_ACTORS, REMOTE_HOSTS, REMOTE_POSTS, WEEKNOTES, WORKER_HEALTH)
from ..states import DeliveryState, InteractionState
from ..urls import is_web

ACTOR_COLUMNS = (REMOTE_ACTORS.c.uri.label("actor_uri"), REMOTE_ACTORS.c.handle, REMOTE_ACTORS.c.display_name,
                 REMOTE_ACTORS.c.url.label("actor_url"), REMOTE_ACTORS.c.icon_url)
# Built once, for every item page: comparing a column with a StrEnum member costs SQLAlchemy a type lookup.
_VISIBLE = INTERACTIONS.c.state == InteractionState.VISIBLE


# --- via credit --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Via:
    """The author of a remote post a bookmark was saved from, credited (and mentioned) when federated."""

    actor_uri: str
    post_uri: str | None
    handle: str
    display_name: str


def known_via(conn: Connection, actor_uri: str | None, post_uri: str | None) -> Via | None:
    """The via credit, only for an actor we already know: a query string must not make us mention
    (and deliver to) any address it likes. A post that is not an http(s) URL is left out."""
    if not is_web(actor_uri):
        return None
    row = conn.execute(select(REMOTE_ACTORS.c.uri, REMOTE_ACTORS.c.handle, REMOTE_ACTORS.c.display_name)
                       .where(REMOTE_ACTORS.c.uri == actor_uri)).first()
    if row is None:
        return None
    return Via(row.uri, post_uri if is_web(post_uri) else None, row.handle, row.display_name)


def bookmark_via(conn: Connection, bookmark_id: int) -> dict[str, Any] | None:
    """Who the owner found this bookmark through, for "via @user@host"."""
    row = conn.execute(select(BOOKMARKS.c.via_actor_uri, BOOKMARKS.c.via_post_uri, REMOTE_ACTORS.c.handle,
                              REMOTE_ACTORS.c.display_name)
                       .outerjoin(REMOTE_ACTORS, REMOTE_ACTORS.c.uri == BOOKMARKS.c.via_actor_uri)
                       .where(BOOKMARKS.c.id == bookmark_id, BOOKMARKS.c.via_actor_uri.is_not(None))).mappings().first()
    return dict(row) if row else None


# --- responses under an item -----------------------------------------------------------------------------


def item_interactions(conn: Connection, kind: str, target_id: int, *, owner: bool) -> dict[str, Any]:
    """Likes, boosts and replies of one item with their authors: one query, whatever their number.
    Readers see visible ones only; the owner sees hidden and pending replies too, marked."""
    query = (select(INTERACTIONS.c.id, INTERACTIONS.c.kind, INTERACTIONS.c.uri, INTERACTIONS.c.in_reply_to,
                    INTERACTIONS.c.content_html, INTERACTIONS.c.url, INTERACTIONS.c.state, INTERACTIONS.c.published,
                    *ACTOR_COLUMNS)
             .join(REMOTE_ACTORS, REMOTE_ACTORS.c.id == INTERACTIONS.c.actor_id)
             .where(INTERACTIONS.c.target_kind == kind, INTERACTIONS.c.target_id == target_id)
             .order_by(INTERACTIONS.c.published, INTERACTIONS.c.id))
    if not owner:
        query = query.where(_VISIBLE)
    likes: list[dict[str, Any]] = []
    boosts: list[dict[str, Any]] = []
    replies: list[dict[str, Any]] = []
    for row in conn.execute(query).mappings():
        item = dict(row)
        {"like": likes, "announce": boosts, "reply": replies}.get(item["kind"], []).append(item)
    return {"likes": likes, "boosts": boosts, "replies": threaded(replies),
            "reply_count": len(replies)}


def threaded(replies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Top-level replies, each with ``children``: every answer below it, however deep, one level in.
    A reply whose parent is not shown (hidden, or elsewhere) stands on its own."""
    if not replies:
        return []
    from ..markup import sanitise_html  # nh3 only when there is something to clean

    by_uri = {r["uri"]: r for r in replies}
    for reply in replies:
        reply["content_safe"] = sanitise_html(reply["content_html"] or "")
        reply["children"] = []
    roots = []
    for reply in replies:
        root, seen = reply, {reply["uri"]}
        while root["in_reply_to"] in by_uri and root["in_reply_to"] not in seen:
            root = by_uri[root["in_reply_to"]]
            seen.add(root["uri"])
        if root is reply or root["in_reply_to"] in seen:  # a loop of replies: each stands on its own
            roots.append(reply)
        else:
            root["children"].append(reply)
    return roots


# --- following and followers -------------------------------------------------------------------------------


def following(conn: Connection) -> Sequence[RowMapping]:
    """Everyone the owner follows or asked to follow, newest first."""
    return conn.execute(select(FOLLOWING.c.state, FOLLOWING.c.created_at, REMOTE_ACTORS.c.id, *ACTOR_COLUMNS)
                        .join(REMOTE_ACTORS, REMOTE_ACTORS.c.id == FOLLOWING.c.actor_id)
                        .order_by(FOLLOWING.c.created_at.desc(), FOLLOWING.c.id.desc())).mappings().all()


def followers(conn: Connection) -> Sequence[RowMapping]:
    """Followers and pending requests, newest first."""
    return conn.execute(select(FOLLOWERS.c.id, FOLLOWERS.c.state, FOLLOWERS.c.created_at,
                               REMOTE_ACTORS.c.id.label("actor_id"), *ACTOR_COLUMNS)
                        .join(REMOTE_ACTORS, REMOTE_ACTORS.c.id == FOLLOWERS.c.actor_id)
                        .order_by(FOLLOWERS.c.created_at.desc(), FOLLOWERS.c.id.desc())).mappings().all()


def blocked(conn: Connection) -> Sequence[RowMapping]:
    """Blocked accounts, newest first, with the handle when we know the actor."""
    return conn.execute(select(BLOCKED_ACTORS.c.id, BLOCKED_ACTORS.c.uri, BLOCKED_ACTORS.c.created_at,
                               REMOTE_ACTORS.c.handle, REMOTE_ACTORS.c.display_name)
                        .outerjoin(REMOTE_ACTORS, REMOTE_ACTORS.c.uri == BLOCKED_ACTORS.c.uri)
                        .order_by(BLOCKED_ACTORS.c.created_at.desc(), BLOCKED_ACTORS.c.id.desc())).mappings().all()


def follower_actor_id(conn: Connection, follower_id: int) -> int | None:
    return conn.execute(select(FOLLOWERS.c.actor_id).where(FOLLOWERS.c.id == follower_id)).scalar()


def follower(conn: Connection, follower_id: int) -> Row[Any] | None:
    """A follower's (or follow request's) state, handle and actor id."""
    return conn.execute(select(FOLLOWERS.c.state, REMOTE_ACTORS.c.handle, REMOTE_ACTORS.c.uri)
                        .join(REMOTE_ACTORS, REMOTE_ACTORS.c.id == FOLLOWERS.c.actor_id)
                        .where(FOLLOWERS.c.id == follower_id)).first()


# --- interactions ------------------------------------------------------------------------------------------


def interaction_kind(conn: Connection, interaction_id: int) -> str | None:
    return conn.execute(select(INTERACTIONS.c.kind).where(INTERACTIONS.c.id == interaction_id)).scalar()


def interactions(conn: Connection, *, limit: int, offset: int) -> list[dict[str, Any]]:
    """Responses to every item, newest first, with their authors and the item's title."""
    query = (select(INTERACTIONS.c.id, INTERACTIONS.c.kind, INTERACTIONS.c.uri, INTERACTIONS.c.url,
                    INTERACTIONS.c.state, INTERACTIONS.c.published, INTERACTIONS.c.content_html,
                    INTERACTIONS.c.target_kind, INTERACTIONS.c.target_id, BOOKMARKS.c.title.label("bookmark_title"),
                    WEEKNOTES.c.week, WEEKNOTES.c.title.label("weeknote_title"), *ACTOR_COLUMNS)
             .join(REMOTE_ACTORS, REMOTE_ACTORS.c.id == INTERACTIONS.c.actor_id)
             .outerjoin(BOOKMARKS, and_(INTERACTIONS.c.target_kind == "b", BOOKMARKS.c.id == INTERACTIONS.c.target_id))
             .outerjoin(WEEKNOTES, and_(INTERACTIONS.c.target_kind == "w", WEEKNOTES.c.id == INTERACTIONS.c.target_id))
             .order_by(INTERACTIONS.c.published.desc(), INTERACTIONS.c.id.desc()).limit(limit).offset(offset))
    return [dict(r) for r in conn.execute(query).mappings()]


# --- delivery log ------------------------------------------------------------------------------------------


@dataclass
class Deliveries:
    """The delivery log: how many per state, the queue, the given up, and the hosts that fail."""

    counts: dict[str, int]
    queued: Sequence[RowMapping]
    failed: Sequence[RowMapping]
    hosts: Sequence[RowMapping]


def deliveries(conn: Connection, *, limit: int) -> Deliveries:
    columns = (DELIVERIES.c.id, DELIVERIES.c.inbox, DELIVERIES.c.host, DELIVERIES.c.state, DELIVERIES.c.attempts,
               DELIVERIES.c.last_status, DELIVERIES.c.last_error, DELIVERIES.c.next_attempt_at, DELIVERIES.c.updated_at,
               OUTBOX_ACTIVITIES.c.type, OUTBOX_ACTIVITIES.c.object_uri)
    counts = dict(conn.execute(select(DELIVERIES.c.state, func.count()).group_by(DELIVERIES.c.state)).all())
    queued = conn.execute(select(*columns).join(OUTBOX_ACTIVITIES, OUTBOX_ACTIVITIES.c.id == DELIVERIES.c.activity_id)
                          .where(DELIVERIES.c.state == DeliveryState.QUEUED)
                          .order_by(DELIVERIES.c.next_attempt_at, DELIVERIES.c.id).limit(limit)).mappings().all()
    failed = conn.execute(select(*columns).join(OUTBOX_ACTIVITIES, OUTBOX_ACTIVITIES.c.id == DELIVERIES.c.activity_id)
                          .where(DELIVERIES.c.state == DeliveryState.GAVE_UP)
                          .order_by(DELIVERIES.c.updated_at.desc(), DELIVERIES.c.id.desc())
                          .limit(limit)).mappings().all()
    hosts = conn.execute(select(REMOTE_HOSTS).where(or_(REMOTE_HOSTS.c.unavailable.is_(True),
                                                        REMOTE_HOSTS.c.failing_since.is_not(None)))
                         .order_by(REMOTE_HOSTS.c.unavailable.desc(), REMOTE_HOSTS.c.host)).mappings().all()
    return Deliveries(counts, queued, failed, hosts)


# --- worker health -----------------------------------------------------------------------------------------

# A worker writes its heartbeat every few seconds even when idle (federation/health.py): a minute without one
# means no worker is running, or it hangs.
WORKER_SILENT_AFTER = timedelta(minutes=1)


@dataclass
class Workers:
    """The workers seen in the last day, latest heartbeat first, and whether any of them is alive now."""

    rows: Sequence[RowMapping]
    last_progress: datetime | None
    silent: bool


def workers(conn: Connection, *, now: datetime) -> Workers:
    rows = conn.execute(select(WORKER_HEALTH).where(WORKER_HEALTH.c.beat_at >= now - timedelta(days=1))
                        .order_by(WORKER_HEALTH.c.beat_at.desc()).limit(5)).mappings().all()
    progress = [r.progress_at for r in rows if r.progress_at is not None]
    return Workers(rows, max(progress) if progress else None,
                   not rows or now - rows[0].beat_at > WORKER_SILENT_AFTER)


# --- network -----------------------------------------------------------------------------------------------


def network(conn: Connection, *, limit: int, offset: int) -> list[dict[str, Any]]:
    """Recent link posts from accounts the owner follows, newest first, with their authors."""
    query = (select(REMOTE_POSTS.c.id, REMOTE_POSTS.c.uri, REMOTE_POSTS.c.link_url, REMOTE_POSTS.c.title,
                    REMOTE_POSTS.c.content_html, REMOTE_POSTS.c.url, REMOTE_POSTS.c.published, *ACTOR_COLUMNS)
             .join(REMOTE_ACTORS, REMOTE_ACTORS.c.id == REMOTE_POSTS.c.actor_id)
             .join(FOLLOWING, FOLLOWING.c.actor_id == REMOTE_ACTORS.c.id)
             .order_by(REMOTE_POSTS.c.published.desc(), REMOTE_POSTS.c.id.desc()).limit(limit).offset(offset))
    return [dict(r) for r in conn.execute(query).mappings()]
