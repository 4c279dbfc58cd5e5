"""The owner's "Account moving" page: aliases (alsoKnownAs) for moving in, and moving out.

Thin on purpose: the rules live in ``federation/moving.py``; here form fields become calls and a
refusal re-shows the page with the owner's input and the reason (nothing was changed then).
"""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from .. import site
from ..queries import owner as owner_reads
from .security import owner_required

bp = Blueprint("account", __name__)


def _fetcher():  # noqa: ANN202
    from ..federation.fetcher import fetch_client

    return fetch_client(site().config)


def _page(*, account: str = "", alias_error: str | None = None, target: str = "", confirm: str = "",
          move_error: str | None = None, status: int = 200):
    from ..federation import moving, objects

    with site().engine.connect() as conn:
        aliases = moving.aliases(conn)
        went = owner_reads.moved(conn)
    return render_template("admin_account.html", aliases=aliases, went=went, account=account,
                           alias_error=alias_error, target=target, confirm=confirm, move_error=move_error,
                           actor=objects.urls(site().config).actor), status


def _same_account(first: str, second: str) -> bool:
    """The retyped target matches, whatever the case or a leading @ (handles are case-insensitive)."""
    def norm(text: str) -> str:
        return text.strip().removeprefix("@").removeprefix("acct:").lower()

    return bool(first.strip()) and norm(first) == norm(second)


@bp.route("/admin/account")
@owner_required
def page():
    return _page()


@bp.route("/admin/account/aliases", methods=["POST"])
@owner_required
def add_alias():
    from ..federation import moving

    account = request.form.get("account", "")
    try:
        message = moving.add_alias(site().engine, site().config, account, _fetcher())
    except moving.FollowError as exc:
        return _page(account=account, alias_error=str(exc), status=400)
    flash(message)
    return redirect(url_for("account.page"))


@bp.route("/admin/account/aliases/remove", methods=["POST"])
@owner_required
def remove_alias():
    from ..federation import moving

    try:
        message = moving.remove_alias(site().engine, site().config, request.form.get("alias", ""))
    except moving.FollowError as exc:
        return _page(alias_error=str(exc), status=400)
    flash(message)
    return redirect(url_for("account.page"))


@bp.route("/admin/account/move", methods=["POST"])
@owner_required
def move():
    from ..federation import moving

    target, confirm = request.form.get("account", ""), request.form.get("confirm", "")
    if not _same_account(target, confirm):
        return _page(target=target, confirm=confirm, status=400,
                     move_error="Type the new account a second time, exactly as above, to confirm the move.")
    try:
        found = moving.check_target(site().engine, site().config, target, _fetcher())
        message = moving.move(site().engine, site().config, found)
    except moving.FollowError as exc:
        return _page(target=target, confirm=confirm, move_error=str(exc), status=400)
    flash(message)
    return redirect(url_for("account.page"))
