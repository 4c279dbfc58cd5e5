"""Log in, log out, change password; failed logins are rate-limited per address across processes."""
from __future__ import annotations

import logging
from datetime import timedelta

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from sqlalchemy import delete, insert

from .. import site
from ..account import MIN_PASSWORD_LENGTH, PasswordTooShort, check_password, set_owner_password
from ..db import utcnow
from ..models import LOGIN_FAILURES, Owner
from ..passwords import verify_password
from ..queries.owner import login_failures, owner_row
from .security import is_owner, owner_required, safe_next

bp = Blueprint("auth", __name__)
log = logging.getLogger(__name__)


def _recent_failures(conn, address: str) -> int:  # noqa: ANN001
    window = site().config.get("security", "login_window")
    since = utcnow() - timedelta(seconds=window)
    conn.execute(delete(LOGIN_FAILURES).where(LOGIN_FAILURES.c.at < utcnow() - timedelta(days=1)))
    return login_failures(conn, address, since)


@bp.route("/login", methods=["GET", "POST"])
def login():
    next_url = safe_next(request.values.get("next"))
    if request.method == "GET":
        if is_owner():
            return redirect(next_url)
        return render_template("login.html", next=next_url, error=None)
    address = request.remote_addr or "unknown"
    config = site().config
    with site().engine.begin() as conn:
        if _recent_failures(conn, address) >= config.get("security", "login_attempts"):
            minutes = max(1, config.get("security", "login_window") // 60)
            log.warning("login rate limit reached for %s", address)
            return render_template("login.html", next=next_url,
                                   error=f"Too many failed logins from your address. Try again in {minutes} "
                                         "minutes."), 429
        owner = owner_row(conn, Owner.username, Owner.password_hash, Owner.session_epoch)
        username = request.form.get("username", "").strip()
        password = request.form.get("password", "")
        if owner is None or username != owner.username or not verify_password(password, owner.password_hash):
            conn.execute(insert(LOGIN_FAILURES).values(address=address, at=utcnow()))
            return render_template("login.html", next=next_url, username=username,
                                   error="Wrong user name or password."), 401
        conn.execute(delete(LOGIN_FAILURES).where(LOGIN_FAILURES.c.address == address))
    session.clear()
    session.permanent = True
    session["owner_epoch"] = owner.session_epoch
    return redirect(next_url)


@bp.route("/logout", methods=["POST"])
def logout():
    session.clear()
    return redirect(url_for("public.home"))


@bp.route("/settings/password", methods=["GET", "POST"])
@owner_required
def change_password():
    if request.method == "GET":
        return render_template("password.html", error=None)
    current = request.form.get("current", "")
    new = request.form.get("new", "")
    with site().engine.begin() as conn:
        row = owner_row(conn, Owner.password_hash)
        if row is None:
            raise LookupError("there is no owner row (run `linkblog init`)")
        stored = row[0]
        if not verify_password(current, stored):
            return render_template("password.html", error="The current password is wrong."), 400
        try:
            check_password(new)
        except PasswordTooShort:
            return render_template("password.html", error="The new password must have at least "
                                                          f"{MIN_PASSWORD_LENGTH} characters."), 400
        if new != request.form.get("confirm", ""):
            return render_template("password.html", error="The two new passwords differ."), 400
        epoch = set_owner_password(conn, new)
    session["owner_epoch"] = epoch
    flash("Password changed. Other sessions are logged out.")
    return redirect(url_for("public.home"))
