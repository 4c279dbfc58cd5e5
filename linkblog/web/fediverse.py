"""The owner's fediverse pages: following, followers, interactions, deliveries, network.

Their reads are in queries/fediverse.py (with the responses shown under items). Imported by every web
worker, so the HTTP client and the follow logic are imported only by the views that need them.
"""
from __future__ import annotations

from typing import Any, Callable

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import Connection, delete, update

from .. import site
from ..db import utcnow
from ..models import INTERACTIONS
from ..queries import fediverse as fediverse_reads
from ..states import DeliveryState, FollowState, InteractionState
from .security import owner_required, safe_next

bp = Blueprint("fediverse", __name__)
PAGE = 50
LOG_ROWS = 200


def _page_number() -> int:
    raw = request.args.get("page", "1")
    if not raw.isdigit() or not 1 <= int(raw) <= 10_000:
        abort(400, description="The page number must be a whole number from 1.")
    return int(raw)


def _render_numbered_page(read: Callable[..., list[dict[str, Any]]], template: str,
                   shown: Callable[[dict[str, Any]], None]) -> str:
    """This request's page of ``read`` (by ?page=) rendered with ``template``, each row made ready by ``shown``."""
    page = _page_number()
    with site().engine.connect() as conn:
        rows = read(conn, limit=PAGE + 1, offset=(page - 1) * PAGE)
    for row in rows[:PAGE]:
        shown(row)
    return render_template(template, rows=rows[:PAGE], page=page, more=len(rows) > PAGE)


def _back(default: str) -> Any:
    return redirect(safe_next(request.form.get("next"), default))


def _fail(message: str, default: str) -> Any:
    flash(message)
    return _back(default)


# --- following ---------------------------------------------------------------------------------------------


def _fetcher():  # noqa: ANN202
    from ..federation.fetcher import fetch_client

    return fetch_client(site().config)


def _following_page(*, account: str = "", error: str | None = None, status: int = 200):
    with site().engine.connect() as conn:
        rows = fediverse_reads.following(conn)
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
        rows = fediverse_reads.followers(conn)
        blocked = fediverse_reads.blocked(conn)
    return render_template("fedi_followers.html", accepted=[r for r in rows if r["state"] == FollowState.ACCEPTED],
                           pending=[r for r in rows if r["state"] == FollowState.PENDING], blocked=blocked,
                           manual=site().settings().get("federation", "manually_approves_followers"))


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
                actor_id = fediverse_reads.follower_actor_id(conn, follower_id)
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
    """Approve or reject a pending request through following's own functions (they queue Accept/Reject)."""
    from ..federation.following import FollowError, approve_follow, reject_follow

    row = fediverse_reads.follower(conn, follower_id)
    if row is None:
        raise FollowError("That follow request is gone (withdrawn, or already answered).")
    name = "@" + row.handle if row.handle else row.uri
    if approve:
        if row.state != FollowState.PENDING:
            raise FollowError(f"{name} already follows you.")
        if not approve_follow(conn, site().config, follower_id):
            raise FollowError("That follow request is gone (withdrawn, or already answered).")
        return f"{name} now follows you."
    if not reject_follow(conn, site().config, follower_id):
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
    from ..federation.reading import text_excerpt

    def shown(row: dict[str, Any]) -> None:
        row["excerpt"] = text_excerpt(row["content_html"], 200) if row["kind"] == "reply" else ""

    return _render_numbered_page(fediverse_reads.interactions, "fedi_interactions.html", shown)


@bp.route("/admin/interactions/<int:interaction_id>/<any(hide, show, delete):action>", methods=["POST"])
@owner_required
def moderate(interaction_id: int, action: str):
    """Hide, show (also approves a pending reply) or delete a reply; hidden ones never show publicly."""
    back = url_for("fediverse.interactions")
    with site().engine.begin() as conn:
        kind = fediverse_reads.interaction_kind(conn, interaction_id)
        if kind is None:
            return _fail("That response is gone already.", back)
        if action == "delete":
            conn.execute(delete(INTERACTIONS).where(INTERACTIONS.c.id == interaction_id))
            message = "Deleted the reply." if kind == "reply" else "Deleted it."
        else:
            state = InteractionState.HIDDEN if action == "hide" else InteractionState.VISIBLE
            conn.execute(update(INTERACTIONS).where(INTERACTIONS.c.id == interaction_id)
                         .values(state=state, updated_at=utcnow()))
            message = "Hidden: only you can see it now." if action == "hide" else "Shown to everyone."
    flash(message)
    return _back(back)


# --- delivery log ------------------------------------------------------------------------------------------


@bp.route("/admin/deliveries")
@owner_required
def deliveries():
    with site().engine.connect() as conn:
        log = fediverse_reads.deliveries(conn, limit=LOG_ROWS)
        workers = fediverse_reads.workers(conn, now=utcnow())
    counts = log.counts
    states = {state: counts.get(state, 0) for state in DeliveryState}
    states.update({k: v for k, v in counts.items() if k not in states})
    return render_template("fedi_deliveries.html", counts=states, queued=log.queued, failed=log.failed,
                           hosts=log.hosts, limit=LOG_ROWS, workers=workers)


# --- network -----------------------------------------------------------------------------------------------


@bp.route("/network")
@owner_required
def network():
    """Recent link posts from followed accounts, each with a Save link that credits the author."""
    from ..markup import sanitise_html

    def shown(row: dict[str, Any]) -> None:
        row["content_safe"] = sanitise_html(row["content_html"] or "")
        row["save_url"] = url_for("owner.save_form", url=row["link_url"], title=row["title"] or "",
                                  via_actor=row["actor_uri"], via_post=row["uri"])

    return _render_numbered_page(fediverse_reads.network, "fedi_network.html", shown)


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
