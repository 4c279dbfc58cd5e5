"""Headers on every response, CSRF on every form post, the owner's session, safe redirects."""
from __future__ import annotations

import hmac
import secrets
from functools import wraps
from typing import Any, Callable, TypeVar
from urllib.parse import urlsplit

from flask import Flask, Response, abort, current_app, g, redirect, request, session, url_for
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from .. import site
from ..account import session_id_of
from ..db import utcnow
from ..queries.owner import session_is_live

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; manifest-src 'self'")
# Pages with the readers' Follow form: it redirects to https://<their server>/authorize_interaction, and
# browsers hold a form's redirects to form-action too. Only public pages carry it (never a password field).
CSP_FOLLOW_FORM = CSP.replace("form-action 'self'", "form-action 'self' https:")
CSRF_FIELD = "csrf_token"
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
EXEMPT_ATTR = "csrf_exempt"
SESSION_KEY = "owner_session"  # the session token in the cookie; the server keeps its hash (owner_sessions)

Exemptible = TypeVar("Exemptible")


def csrf_token() -> str:
    token = session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def csrf_exempt(target: Exemptible) -> Exemptible:
    """Declares a view function or a whole blueprint free of the form CSRF check. Only for requests that
    never authenticate with our session cookie: the API (bearer tokens), the ActivityPub inbox (HTTP
    signatures). Put it below the route decorator, so the registered view carries the mark."""
    setattr(target, EXEMPT_ATTR, True)
    return target


def _endpoint() -> str | None:
    """The endpoint this URL names; for a method it does not allow, the endpoint it would have reached, so
    an exempt URL still answers such a request 405 (not a CSRF error)."""
    refused = request.routing_exception
    if request.endpoint is not None or not isinstance(refused, MethodNotAllowed):
        return request.endpoint
    allowed = refused.valid_methods or []
    adapter = current_app.create_url_adapter(request)
    if not allowed or adapter is None:
        return None
    try:
        endpoint, _ = adapter.match(method=allowed[0])
    except HTTPException:
        return None
    return str(endpoint)


def is_csrf_exempt(endpoint: str | None) -> bool:
    """True when the endpoint's view, or a blueprint it belongs to, was declared with ``csrf_exempt``."""
    if endpoint is None:
        return False
    if getattr(current_app.view_functions.get(endpoint), EXEMPT_ATTR, False):
        return True
    blueprint = endpoint.rpartition(".")[0]
    while blueprint:
        if getattr(current_app.blueprints.get(blueprint), EXEMPT_ATTR, False):
            return True
        blueprint = blueprint.rpartition(".")[0]
    return False


def check_csrf() -> None:
    """Form posts must echo the session's token, unless their view declared itself ``csrf_exempt``."""
    if request.method not in UNSAFE_METHODS or is_csrf_exempt(_endpoint()):
        return
    sent = request.form.get(CSRF_FIELD) or request.headers.get("X-CSRF-Token") or ""
    expected = session.get("csrf") or ""
    if not expected or not hmac.compare_digest(sent, expected):
        abort(400, description="The form expired or did not come from this site (CSRF check failed). "
                               "Go back, reload the page and submit it again.")


def is_owner() -> bool:
    """Logged in as the owner: the cookie names a session the server still holds (logout removes it), from
    the current session epoch (a new password or "log out everywhere" moves it on), within the cookie's
    lifetime. Checked once per request."""
    if "owner_ok" in g:
        return g.owner_ok
    epoch, token = session.get("owner_epoch"), session.get(SESSION_KEY)
    ok = False
    if isinstance(epoch, int) and isinstance(token, str) and token:
        since = utcnow() - current_app.permanent_session_lifetime
        with site().engine.connect() as conn:
            ok = session_is_live(conn, session_id_of(token), epoch, since)
    g.owner_ok = ok
    return ok


def owner_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not is_owner():
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapped


def safe_next(target: str | None, default: str = "/") -> str:
    """Only same-site paths: '/x' is fine; '//evil', 'https://evil', '/\\evil' fall back to default."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(ord(ch) < 32 for ch in target):
        return default
    return target


def no_store(response: Response) -> Response:
    """For a blueprint whose every answer is the owner's data (APIs): no cache may keep it."""
    response.headers["Cache-Control"] = "no-store"
    return response


def add_security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    if response.mimetype == "text/html":
        response.vary.add("Cookie")
        if "owner_ok" in g and g.owner_ok:
            response.headers["Cache-Control"] = "private, no-store"
    return response


def init_app(app: Flask) -> None:
    from .sessions import CookieSessions

    app.session_interface = CookieSessions()
    app.before_request(check_csrf)
    app.after_request(add_security_headers)
    app.jinja_env.globals.update(csrf_token=csrf_token, is_owner=is_owner)
