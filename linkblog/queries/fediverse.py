"""Reads for the fediverse pages and the responses under items: accounts, follows, interactions,
deliveries and the network page, each one statement whatever the number of rows."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from sqlalchemy import Connection, Row, RowMapping, and_, func, or_, select

from ..models import (
    BlockedActor, Bookmark, Delivery, Follower, Following, Interaction, OutboxActivity, RemoteActor,
    RemoteHost, RemotePost, Weeknote,
)
from ..urls import is_web

A = RemoteActor.__table__
F = Follower.__table__
FG = Following.__table__
BA = BlockedActor.__table__
I = Interaction.__table__
B = Bookmark.__table__
W = Weeknote.__table__
D = Delivery.__table__
O = OutboxActivity.__table__
H = RemoteHost.__table__
P = RemotePost.__table__
ACTOR_COLUMNS = (A.c.uri.label("actor_uri"), A.c.handle, A.c.display_name, A.c.url.label("actor_url"),
                 A.c.icon_url)


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
    row = conn.execute(select(A.c.uri, A.c.handle, A.c.display_name).where(A.c.uri == actor_uri)).first()
    if row is None:
        return None
    return Via(row.uri, post_uri if is_web(post_uri) else None, row.handle, row.display_name)


def bookmark_via(conn: Connection, bookmark_id: int) -> dict[str, Any] | None:
    """Who the owner found this bookmark through, for "via @user@host"."""
    row = conn.execute(select(B.c.via_actor_uri, B.c.via_post_uri, A.c.handle, A.c.display_name)
                       .outerjoin(A, A.c.uri == B.c.via_actor_uri)
                       .where(B.c.id == bookmark_id, B.c.via_actor_uri.is_not(None))).mappings().first()
    return dict(row) if row else None


# --- responses under an item -----------------------------------------------------------------------------


def item_interactions(conn: Connection, kind: str, target_id: int, *, owner: bool) -> dict[str, Any]:
    """Likes, boosts and replies of one item with their authors: one query, whatever their number.
    Readers see visible ones only; the owner sees hidden and pending replies too, marked."""
    query = (select(I.c.id, I.c.kind, I.c.uri, I.c.in_reply_to, I.c.content_html, I.c.url, I.c.state,
                    I.c.published, *ACTOR_COLUMNS)
             .join(A, A.c.id == I.c.actor_id)
             .where(I.c.target_kind == kind, I.c.target_id == target_id)
             .order_by(I.c.published, I.c.id))
    if not owner:
        query = query.where(I.c.state == "visible")
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
    return conn.execute(select(FG.c.state, FG.c.created_at, A.c.id, *ACTOR_COLUMNS)
                        .join(A, A.c.id == FG.c.actor_id)
                        .order_by(FG.c.created_at.desc(), FG.c.id.desc())).mappings().all()


def followers(conn: Connection) -> Sequence[RowMapping]:
    """Followers and pending requests, newest first."""
    return conn.execute(select(F.c.id, F.c.state, F.c.created_at, A.c.id.label("actor_id"), *ACTOR_COLUMNS)
                        .join(A, A.c.id == F.c.actor_id)
                        .order_by(F.c.created_at.desc(), F.c.id.desc())).mappings().all()


def blocked(conn: Connection) -> Sequence[RowMapping]:
    """Blocked accounts, newest first, with the handle when we know the actor."""
    return conn.execute(select(BA.c.id, BA.c.uri, BA.c.created_at, A.c.handle, A.c.display_name)
                        .outerjoin(A, A.c.uri == BA.c.uri)
                        .order_by(BA.c.created_at.desc(), BA.c.id.desc())).mappings().all()


def follower_actor_id(conn: Connection, follower_id: int) -> int | None:
    return conn.execute(select(F.c.actor_id).where(F.c.id == follower_id)).scalar()


def follower(conn: Connection, follower_id: int) -> Row[Any] | None:
    """A follower's (or follow request's) state, handle and actor id."""
    return conn.execute(select(F.c.state, A.c.handle, A.c.uri).join(A, A.c.id == F.c.actor_id)
                        .where(F.c.id == follower_id)).first()


# --- interactions ------------------------------------------------------------------------------------------


def interaction_kind(conn: Connection, interaction_id: int) -> str | None:
    return conn.execute(select(I.c.kind).where(I.c.id == interaction_id)).scalar()


def interactions(conn: Connection, *, limit: int, offset: int) -> list[dict[str, Any]]:
    """Responses to every item, newest first, with their authors and the item's title."""
    query = (select(I.c.id, I.c.kind, I.c.uri, I.c.url, I.c.state, I.c.published, I.c.content_html,
                    I.c.target_kind, I.c.target_id, B.c.title.label("bookmark_title"), W.c.week,
                    W.c.title.label("weeknote_title"), *ACTOR_COLUMNS)
             .join(A, A.c.id == I.c.actor_id)
             .outerjoin(B, and_(I.c.target_kind == "b", B.c.id == I.c.target_id))
             .outerjoin(W, and_(I.c.target_kind == "w", W.c.id == I.c.target_id))
             .order_by(I.c.published.desc(), I.c.id.desc()).limit(limit).offset(offset))
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
    columns = (D.c.id, D.c.inbox, D.c.host, D.c.state, D.c.attempts, D.c.last_status, D.c.last_error,
               D.c.next_attempt_at, D.c.updated_at, O.c.type, O.c.object_uri)
    counts = dict(conn.execute(select(D.c.state, func.count()).group_by(D.c.state)).all())
    queued = conn.execute(select(*columns).join(O, O.c.id == D.c.activity_id).where(D.c.state == "queued")
                          .order_by(D.c.next_attempt_at, D.c.id).limit(limit)).mappings().all()
    failed = conn.execute(select(*columns).join(O, O.c.id == D.c.activity_id).where(D.c.state == "gave_up")
                          .order_by(D.c.updated_at.desc(), D.c.id.desc()).limit(limit)).mappings().all()
    hosts = conn.execute(select(H).where(or_(H.c.unavailable.is_(True), H.c.failing_since.is_not(None)))
                         .order_by(H.c.unavailable.desc(), H.c.host)).mappings().all()
    return Deliveries(counts, queued, failed, hosts)


# --- network -----------------------------------------------------------------------------------------------


def network(conn: Connection, *, limit: int, offset: int) -> list[dict[str, Any]]:
    """Recent link posts from accounts the owner follows, newest first, with their authors."""
    query = (select(P.c.id, P.c.uri, P.c.link_url, P.c.title, P.c.content_html, P.c.url, P.c.published,
                    *ACTOR_COLUMNS)
             .join(A, A.c.id == P.c.actor_id).join(FG, FG.c.actor_id == A.c.id)
             .order_by(P.c.published.desc(), P.c.id.desc()).limit(limit).offset(offset))
    return [dict(r) for r in conn.execute(query).mappings()]
