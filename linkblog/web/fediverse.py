"""The owner's fediverse pages (following, followers, interactions, deliveries, network) and the
responses shown under items.

Imported by every web worker (item pages show responses), so the HTTP client and the follow logic
are imported only by the views that need them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import Connection, and_, delete, func, or_, select, update

from .. import site
from ..db import utcnow
from ..models import (
    URL_MAX, BlockedActor, Bookmark, Delivery, Follower, Following, Interaction, OutboxActivity, RemoteActor, RemoteHost,
    RemotePost, Weeknote,
)
from .security import owner_required, safe_next

bp = Blueprint("fediverse", __name__)
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
PAGE = 50
LOG_ROWS = 200
ACTOR_COLUMNS = (A.c.uri.label("actor_uri"), A.c.handle, A.c.display_name, A.c.url.label("actor_url"),
                 A.c.icon_url)


def _page_number() -> int:
    raw = request.args.get("page", "1")
    if not raw.isdigit() or not 1 <= int(raw) <= 10_000:
        abort(400, description="The page number must be a whole number from 1.")
    return int(raw)


def _back(default: str) -> Any:
    return redirect(safe_next(request.form.get("next"), default))


def _fail(message: str, default: str) -> Any:
    flash(message)
    return _back(default)


def _is_web(url: Any) -> bool:
    if not isinstance(url, str) or len(url) > URL_MAX:
        return False
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


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
    if not _is_web(actor_uri):
        return None
    row = conn.execute(select(A.c.uri, A.c.handle, A.c.display_name).where(A.c.uri == actor_uri)).first()
    if row is None:
        return None
    return Via(row.uri, post_uri if _is_web(post_uri) else None, row.handle, row.display_name)


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
    return {"likes": likes, "boosts": boosts, "replies": _threaded(replies),
            "reply_count": len(replies)}


def _threaded(replies: list[dict[str, Any]]) -> list[dict[str, Any]]:
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


# --- following ---------------------------------------------------------------------------------------------


def _fetcher():  # noqa: ANN202
    from ..federation.fetcher import fetch_client

    return fetch_client(site().config)


def _following_page(*, account: str = "", error: str | None = None, status: int = 200):
    with site().engine.connect() as conn:
        rows = conn.execute(select(FG.c.state, FG.c.created_at, A.c.id, *ACTOR_COLUMNS)
                            .join(A, A.c.id == FG.c.actor_id)
                            .order_by(FG.c.created_at.desc(), FG.c.id.desc())).mappings().all()
    return render_template("fedi_following.html", rows=rows, account=account, error=error), status


@bp.route("/admin/following")
@owner_required
def following_list():
    return _following_page(account=request.args.get("account", ""))


@bp.route("/admin/following", methods=["POST"])
@owner_required
def follow():
    from ..federation.following import FollowError, follow as follow_account

    account = request.form.get("account", "")
    try:
        result = follow_account(site().engine, site().config, account, _fetcher())
    except FollowError as exc:
        return _following_page(account=account, error=str(exc), status=400)
    flash(result.message)
    return redirect(url_for("fediverse.following_list"))


@bp.route("/admin/following/<int:actor_id>/unfollow", methods=["POST"])
@owner_required
def unfollow(actor_id: int):
    from ..federation.following import FollowError, unfollow as unfollow_account

    try:
        result = unfollow_account(site().engine, site().config, actor_id)
    except FollowError as exc:
        return _fail(str(exc), url_for("fediverse.following_list"))
    flash(result.message)
    return redirect(url_for("fediverse.following_list"))


# --- followers ---------------------------------------------------------------------------------------------


@bp.route("/admin/followers")
@owner_required
def followers_list():
    with site().engine.connect() as conn:
        rows = conn.execute(select(F.c.id, F.c.state, F.c.created_at, A.c.id.label("actor_id"), *ACTOR_COLUMNS)
                            .join(A, A.c.id == F.c.actor_id)
                            .order_by(F.c.created_at.desc(), F.c.id.desc())).mappings().all()
        blocked = conn.execute(select(BA.c.id, BA.c.uri, BA.c.created_at, A.c.handle, A.c.display_name)
                               .outerjoin(A, A.c.uri == BA.c.uri)
                               .order_by(BA.c.created_at.desc(), BA.c.id.desc())).mappings().all()
    return render_template("fedi_followers.html", accepted=[r for r in rows if r["state"] == "accepted"],
                           pending=[r for r in rows if r["state"] == "pending"], blocked=blocked,
                           manual=site().config.get("federation", "manually_approves_followers"))


def _follower_action(follower_id: int, action: str):
    """Run one follower action in a transaction; a gone follower is a message, not an error page."""
    from ..federation import following

    config = site().config
    back = url_for("fediverse.followers_list")
    try:
        with site().engine.begin() as conn:
            if action == "remove":
                message = following.remove_follower(conn, config, follower_id).message
            elif action == "block":
                actor_id = conn.execute(select(F.c.actor_id).where(F.c.id == follower_id)).scalar()
                if actor_id is None:
                    raise following.FollowError("That follower is gone already (removed, or they unfollowed).")
                message = following.block(conn, config, actor_id).message
            else:
                message = _decide(conn, follower_id, approve=action == "approve")
    except following.FollowError as exc:
        return _fail(str(exc), back)
    flash(message)
    return redirect(back)


def _decide(conn: Connection, follower_id: int, *, approve: bool) -> str:
    """Approve or reject a pending request through the inbox's own functions (they queue Accept/Reject)."""
    from ..federation.following import FollowError

    row = conn.execute(select(F.c.state, A.c.handle, A.c.uri).join(A, A.c.id == F.c.actor_id)
                       .where(F.c.id == follower_id)).first()
    if row is None:
        raise FollowError("That follow request is gone (withdrawn, or already answered).")
    from ..federation import inbox
    name = "@" + row.handle if row.handle else row.uri
    if approve:
        if row.state != "pending":
            raise FollowError(f"{name} already follows you.")
        if not inbox.approve_follow(conn, site().config, follower_id):
            raise FollowError("That follow request is gone (withdrawn, or already answered).")
        return f"{name} now follows you."
    if not inbox.reject_follow(conn, site().config, follower_id):
        raise FollowError("That follow request is gone (withdrawn, or already answered).")
    return f"Rejected the follow request from {name}."


@bp.route("/admin/followers/<int:follower_id>/<any(remove, block, approve, reject):action>", methods=["POST"])
@owner_required
def follower_action(follower_id: int, action: str):
    return _follower_action(follower_id, action)


@bp.route("/admin/blocked/<int:blocked_id>/unblock", methods=["POST"])
@owner_required
def unblock(blocked_id: int):
    from ..federation import following

    try:
        with site().engine.begin() as conn:
            message = following.unblock(conn, site().config, blocked_id)
    except following.FollowError as exc:
        return _fail(str(exc), url_for("fediverse.followers_list"))
    flash(message)
    return redirect(url_for("fediverse.followers_list"))


# --- interactions ------------------------------------------------------------------------------------------


@bp.route("/admin/interactions")
@owner_required
def interactions():
    page = _page_number()
    query = (select(I.c.id, I.c.kind, I.c.uri, I.c.url, I.c.state, I.c.published, I.c.content_html,
                    I.c.target_kind, I.c.target_id, B.c.title.label("bookmark_title"), W.c.week,
                    W.c.title.label("weeknote_title"), *ACTOR_COLUMNS)
             .join(A, A.c.id == I.c.actor_id)
             .outerjoin(B, and_(I.c.target_kind == "b", B.c.id == I.c.target_id))
             .outerjoin(W, and_(I.c.target_kind == "w", W.c.id == I.c.target_id))
             .order_by(I.c.published.desc(), I.c.id.desc()).limit(PAGE + 1).offset((page - 1) * PAGE))
    with site().engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(query).mappings()]
    if rows:
        from ..federation.activities import text_excerpt

        for row in rows:
            row["excerpt"] = text_excerpt(row["content_html"], 200) if row["kind"] == "reply" else ""
    return render_template("fedi_interactions.html", rows=rows[:PAGE], page=page, more=len(rows) > PAGE)


@bp.route("/admin/interactions/<int:interaction_id>/<any(hide, show, delete):action>", methods=["POST"])
@owner_required
def moderate(interaction_id: int, action: str):
    """Hide, show (also approves a pending reply) or delete a reply; hidden ones never show publicly."""
    back = url_for("fediverse.interactions")
    with site().engine.begin() as conn:
        row = conn.execute(select(I.c.kind).where(I.c.id == interaction_id)).first()
        if row is None:
            return _fail("That response is gone already.", back)
        if action == "delete":
            conn.execute(delete(I).where(I.c.id == interaction_id))
            message = "Deleted the reply." if row.kind == "reply" else "Deleted it."
        else:
            state = "hidden" if action == "hide" else "visible"
            conn.execute(update(I).where(I.c.id == interaction_id).values(state=state, updated_at=utcnow()))
            message = "Hidden: only you can see it now." if action == "hide" else "Shown to everyone."
    flash(message)
    return _back(back)


# --- delivery log ------------------------------------------------------------------------------------------


@bp.route("/admin/deliveries")
@owner_required
def deliveries():
    columns = (D.c.id, D.c.inbox, D.c.host, D.c.state, D.c.attempts, D.c.last_status, D.c.last_error,
               D.c.next_attempt_at, D.c.updated_at, O.c.type, O.c.object_uri)
    with site().engine.connect() as conn:
        counts = dict(conn.execute(select(D.c.state, func.count()).group_by(D.c.state)).all())
        queued = conn.execute(select(*columns).join(O, O.c.id == D.c.activity_id).where(D.c.state == "queued")
                              .order_by(D.c.next_attempt_at, D.c.id).limit(LOG_ROWS)).mappings().all()
        failed = conn.execute(select(*columns).join(O, O.c.id == D.c.activity_id).where(D.c.state == "gave_up")
                              .order_by(D.c.updated_at.desc(), D.c.id.desc()).limit(LOG_ROWS)).mappings().all()
        hosts = conn.execute(select(H).where(or_(H.c.unavailable.is_(True), H.c.failing_since.is_not(None)))
                             .order_by(H.c.unavailable.desc(), H.c.host)).mappings().all()
    states = {"queued": counts.get("queued", 0), "done": counts.get("done", 0),
              "gave_up": counts.get("gave_up", 0)}
    states.update({k: v for k, v in counts.items() if k not in states})
    return render_template("fedi_deliveries.html", counts=states, queued=queued, failed=failed, hosts=hosts,
                           limit=LOG_ROWS)


# --- network -----------------------------------------------------------------------------------------------


@bp.route("/network")
@owner_required
def network():
    """Recent link posts from followed accounts, each with a Save link that credits the author."""
    page = _page_number()
    query = (select(P.c.id, P.c.uri, P.c.link_url, P.c.title, P.c.content_html, P.c.url, P.c.published,
                    *ACTOR_COLUMNS)
             .join(A, A.c.id == P.c.actor_id).join(FG, FG.c.actor_id == A.c.id)
             .order_by(P.c.published.desc(), P.c.id.desc()).limit(PAGE + 1).offset((page - 1) * PAGE))
    with site().engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(query).mappings()]
    if rows:
        from ..markup import sanitise_html

        for row in rows:
            row["content_safe"] = sanitise_html(row["content_html"] or "")
            row["save_url"] = url_for("owner.save_form", url=row["link_url"], title=row["title"] or "",
                                      via_actor=row["actor_uri"], via_post=row["uri"])
    return render_template("fedi_network.html", rows=rows[:PAGE], page=page, more=len(rows) > PAGE)


@bp.route("/network/<int:post_id>/like", methods=["POST"])
@owner_required
def like(post_id: int):
    from ..federation.responses import ResponseError, like_post

    try:
        with site().engine.begin() as conn:
            like_post(conn, site().config, post_id)
    except ResponseError as exc:
        return _fail(str(exc), url_for("fediverse.network"))
    flash("Liked.")
    return redirect(url_for("fediverse.network"))


@bp.route("/network/<int:post_id>/reply", methods=["POST"])
@owner_required
def reply(post_id: int):
    from ..federation.responses import ResponseError, reply_to_post

    try:
        with site().engine.begin() as conn:
            reply_to_post(conn, site().config, post_id, request.form.get("content", ""))
    except ResponseError as exc:
        return _fail(str(exc), url_for("fediverse.network"))
    flash("Reply sent.")
    return redirect(url_for("fediverse.network"))
