"""Log in, log out (here or everywhere), change password. Failed logins are rate-limited across processes
per address (IPv6: per /64) and per account; every session is a row on the server, so logging out ends it."""
from __future__ import annotations

import logging
from datetime import timedelta

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for

from .. import account, site
from ..account import MIN_PASSWORD_LENGTH, PasswordTooShort, check_password, set_owner_password
from ..db import utcnow
from ..models import Owner
from ..passwords import verify_password
from ..queries.owner import account_login_failures, login_failures, owner_row
from .security import SESSION_KEY, is_owner, owner_required, safe_next

bp = Blueprint("auth", __name__)
log = logging.getLogger(__name__)


def login_refusal(conn, key: str) -> str | None:  # noqa: ANN001
    """Why this login attempt (the login form, or a password sent to the Pinboard API) is refused before the
    password is even checked, or None."""
    config = site().config
    window, account_window = config.get("security", "login_window"), config.get("security", "account_login_window")
    now = utcnow()
    account.forget_login_failures(conn, before=now - timedelta(seconds=max(window, account_window, 86400)))
    if login_failures(conn, key, now - timedelta(seconds=window)) >= config.get("security", "login_attempts"):
        log.warning("login rate limit reached for %s", key)
        return f"Too many failed logins from your address. Try again in {max(1, window // 60)} minutes."
    if (account_login_failures(conn, now - timedelta(seconds=account_window))
            >= config.get("security", "account_login_attempts")):
        log.warning("per-account login rate limit reached (last attempt from %s)", key)
        return ("Too many failed logins for this account from many addresses. Logging in is paused; try again "
                f"in {max(1, account_window // 60)} minutes, or lift the pause now with `linkblog passwd` on the "
                "server.")
    return None


@bp.route("/login", methods=["GET", "POST"])
def login():
    next_url = safe_next(request.values.get("next"))
    if request.method == "GET":
        if is_owner():
            return redirect(next_url)
        return render_template("login.html", next=next_url, error=None)
    key = account.login_limit_key(request.remote_addr or "unknown")
    with site().engine.begin() as conn:
        refused = login_refusal(conn, key)
        if refused:
            return render_template("login.html", next=next_url, error=refused), 429
        owner = owner_row(conn, Owner.username, Owner.password_hash, Owner.session_epoch)
        username = request.form.get("username", "").strip()
        password = request.form.get("password", "")
        if owner is None or username != owner.username or not verify_password(password, owner.password_hash):
            account.record_login_failure(conn, key, owner_account=owner is not None and username == owner.username)
            return render_template("login.html", next=next_url, username=username,
                                   error="Wrong user name or password."), 401
        account.forget_login_failures(conn, key)
        token = account.start_session(conn, expired_before=utcnow() - current_app.permanent_session_lifetime)
    session.clear()
    session.permanent = True
    session["owner_epoch"] = owner.session_epoch
    session[SESSION_KEY] = token
    return redirect(next_url)


@bp.route("/logout", methods=["POST"])
def logout():
    """Ends this session on the server as well, so a copy of the cookie is worthless from now on."""
    token = session.get(SESSION_KEY)
    if isinstance(token, str):
        with site().engine.begin() as conn:
            account.end_session(conn, token)
    session.clear()
    return redirect(url_for("public.home"))


@bp.route("/logout/everywhere", methods=["POST"])
@owner_required
def logout_everywhere():
    """Ends every session of the owner, this one included (a lost phone, a shared computer)."""
    with site().engine.begin() as conn:
        account.end_other_sessions(conn)
    session.clear()
    flash("Logged out everywhere: every browser that was logged in must log in again.")
    return redirect(url_for("auth.login"))


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
        set_owner_password(conn, new)
        epoch = account.end_other_sessions(conn, keep=session.get(SESSION_KEY))
    session["owner_epoch"] = epoch
    flash("Password changed. Other sessions are logged out.")
    return redirect(url_for("public.home"))
