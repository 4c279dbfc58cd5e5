"""Reads for the fediverse pages and the responses under items: accounts, follows, interactions,
deliveries and the network page, each one statement whatever the number of rows."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Sequence

from sqlalchemy import Connection, Row, RowMapping, and_, func, or_, select, union_all

from ..models import (BLOCKED_ACTORS, BOOKMARKS, DELIVERIES, FOLLOWERS, FOLLOWING, INTERACTIONS, OUTBOX_ACTIVITIES,
                      REMOTE_ACTORS, REMOTE_HOSTS, REMOTE_POSTS, WEEKNOTES, WORKER_HEALTH)
from ..states import DeliveryState, FollowState, InteractionState
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


PEOPLE_SHOWN = 100   # names listed under "Liked by" / "Boosted by"; the counts are always exact
_REPLY_CURSOR = re.compile(r"^(\d{20})-(\d{1,18})$")


@dataclass(frozen=True)
class ReplyCursor:
    """The last reply of a page of replies (oldest first): its time and id, as ``?replies=``."""

    at: datetime
    id: int

    def encode(self) -> str:
        return f"{self.at.year:04d}{self.at:%m%d%H%M%S%f}-{self.id}"

    @classmethod
    def decode(cls, text: str | None) -> "ReplyCursor | None":
        match = _REPLY_CURSOR.match(text or "")
        if not match:
            return None
        try:
            return cls(datetime.strptime(match.group(1), "%Y%m%d%H%M%S%f"), int(match.group(2)))
        except ValueError:
            return None


def item_interactions(conn: Connection, kind: str, target_id: int, *, owner: bool, replies_size: int = 50,
                      replies_after: ReplyCursor | None = None) -> dict[str, Any]:
    """Likes, boosts and one page of replies (oldest first, ``replies_size`` of them after ``replies_after``)
    of one item with their authors, and the exact counts: two statements, whatever their number.
    Readers see visible ones only; the owner sees hidden and pending replies too, marked."""
    columns = (INTERACTIONS.c.id, INTERACTIONS.c.kind, INTERACTIONS.c.uri, INTERACTIONS.c.in_reply_to,
               INTERACTIONS.c.content_html, INTERACTIONS.c.url, INTERACTIONS.c.state, INTERACTIONS.c.published,
               *ACTOR_COLUMNS)
    mine = [INTERACTIONS.c.target_kind == kind, INTERACTIONS.c.target_id == target_id]
    if not owner:
        mine.append(_VISIBLE)
    counts = dict(conn.execute(select(INTERACTIONS.c.kind, func.count()).where(*mine)
                               .group_by(INTERACTIONS.c.kind)).all())

    def part(of_kind: str, limit: int, *where: Any) -> Any:
        return select(select(*columns).join(REMOTE_ACTORS, REMOTE_ACTORS.c.id == INTERACTIONS.c.actor_id)
                      .where(*mine, INTERACTIONS.c.kind == of_kind, *where)
                      .order_by(INTERACTIONS.c.published, INTERACTIONS.c.id).limit(limit).subquery())

    later = () if replies_after is None else (or_(
        INTERACTIONS.c.published > replies_after.at,
        and_(INTERACTIONS.c.published == replies_after.at, INTERACTIONS.c.id > replies_after.id)),)
    found: dict[str, list[dict[str, Any]]] = {"like": [], "announce": [], "reply": []}
    query = union_all(part("like", PEOPLE_SHOWN), part("announce", PEOPLE_SHOWN),
                      part("reply", replies_size + 1, *later))
    for row in conn.execute(query).mappings():
        found[row["kind"]].append(dict(row))
    for people in found.values():   # a UNION keeps no order
        people.sort(key=lambda item: (item["published"], item["id"]))
    replies = found["reply"][:replies_size]
    more = len(found["reply"]) > replies_size
    return {"likes": found["like"], "boosts": found["announce"], "replies": threaded(replies),
            "like_count": counts.get("like", 0), "boost_count": counts.get("announce", 0),
            "reply_count": counts.get("reply", 0), "replies_paged": replies_after is not None,
            "next_replies": ReplyCursor(replies[-1]["published"], replies[-1]["id"]).encode() if more else None}


def threaded(replies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Top-level replies, each with ``children``: every answer below it, however deep, one level in.
    A reply whose parent is not shown (hidden, elsewhere, or on an earlier page) stands on its own, and so
    does every reply of a loop. Each reply's way up is walked once (a dict by id, roots remembered), so a
    page costs time in proportion to its replies, however deep the thread."""
    if not replies:
        return []
    from ..markup import sanitise_html  # nh3 only when there is something to clean

    by_uri = {r["uri"]: r for r in replies}
    root_of: dict[str, dict[str, Any] | None] = {}   # None: the reply is in, or hangs from, a loop
    for reply in replies:
        reply["content_safe"] = sanitise_html(reply["content_html"] or "")
        reply["children"] = []
        path: list[str] = []
        on_path: set[str] = set()
        node, found = reply, None
        while True:
            if node["uri"] in root_of:
                found = root_of[node["uri"]]
                break
            if node["uri"] in on_path:
                found = None
                break
            path.append(node["uri"])
            on_path.add(node["uri"])
            parent = by_uri.get(node["in_reply_to"])
            if parent is None:
                found = node
                break
            node = parent
        for uri in path:
            root_of[uri] = found
    roots = []
    for reply in replies:
        root = root_of[reply["uri"]]
        if root is None or root is reply:
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


def follower_count(conn: Connection) -> int:
    """Accepted followers: how many servers' users are told about a change (the delete confirmation says so)."""
    return conn.execute(select(func.count()).select_from(FOLLOWERS)
                        .where(FOLLOWERS.c.state == FollowState.ACCEPTED)).scalar_one()


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
