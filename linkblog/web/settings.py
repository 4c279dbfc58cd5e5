"""The owner's settings page, the avatar, the about page and the readers' way to follow the site.

Following from another server: the reader names their server and we send them to its interaction page
for our actor, ``https://SERVER/authorize_interaction?uri=<our actor>`` (the convention Mastodon and its
forks answer). We do not look the reader's server up ourselves (WebFinger for its OStatus subscribe
template): an anonymous form would make this server fetch any host a visitor names, which is a request
forgery and amplification risk for no gain on the servers most readers use. The server name is checked
strictly (``urls.server_name``), so the redirect can only go to ``https://<a DNS name>/authorize_interaction``.
"""
from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import quote, urlencode

from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import RequestEntityTooLarge

from .. import settings as site_settings, site
from ..avatars import human_size, too_large
from ..federation.discovery import webfinger_host
from ..queries import owner as owner_reads, settings as settings_reads
from ..states import Visibility
from ..urls import server_name
from .security import CSP_FOLLOW_FORM, is_owner, owner_required

bp = Blueprint("settings", __name__)
log = logging.getLogger(__name__)

FORM_SLACK = 256 * 1024  # the text fields and multipart framing around the avatar
DIGEST = re.compile(r"^[0-9a-f]{64}$")


@bp.url_value_preprocessor
def _avatar_uploads(endpoint: str | None, values: dict | None) -> None:
    """Runs before the CSRF check reads the form: the settings form may carry an avatar of up to
    ``[site] avatar_max_bytes`` (the app's 2 MiB default would refuse a phone photo with a bare 413)."""
    if endpoint == "settings.save":
        request.max_content_length = site().config.get("site", "avatar_max_bytes") + FORM_SLACK


# --- what every page shows ----------------------------------------------------------------------------------


def follow_info() -> dict[str, Any] | None:
    """The handle, actor, name and avatar for the follow box on every page; None before `linkblog init`.
    Read once per request."""
    if "follow_info" in g:
        return g.follow_info
    config = site().config
    try:
        profile = site_settings.profile(site().engine)
    except SQLAlchemyError:  # an error page about the database must still render
        log.exception("cannot read the owner's profile for the follow box")
        profile = None
    info = None
    if profile is not None:
        info = {"handle": f"@{profile.username}@{webfinger_host(config.base_url)}",
                "actor": f"{config.base_url}/actor", "name": profile.name,
                "avatar": site_settings.avatar_url("", profile.avatar_digest), "bio_html": profile.bio_html}
    g.follow_info = info
    return info


def follow_form_shown() -> str:
    """Called by the follow form's template: this page's CSP must let that form go on to the reader's server."""
    g.follow_form = True
    return ""


def _follow_form_csp(response: Response) -> Response:
    if g.get("follow_form") and response.mimetype == "text/html":
        response.headers["Content-Security-Policy"] = CSP_FOLLOW_FORM
    return response


def register_globals(app: Any) -> None:
    app.jinja_env.globals.update(follow_info=follow_info, follow_form_shown=follow_form_shown)
    app.after_request(_follow_form_csp)  # before security's own headers, which keep a CSP already set


# --- the settings page --------------------------------------------------------------------------------------


def _current_form() -> dict[str, Any]:
    settings = site().settings()
    profile = site_settings.profile(site().engine)
    return {
        "display_name": profile.display_name if profile else "", "bio": profile.bio if profile else "",
        "title": settings.get("site", "title"), "description": settings.get("site", "description"),
        "timezone": settings.get("site", "timezone"),
        "default_visibility": settings.get("site", "default_visibility"),
        "manually_approves_followers": bool(settings.get("federation", "manually_approves_followers")),
        "copies_mode": settings.get("copies", "mode"),
        "copies_readers_may_see": bool(settings.get("copies", "readers_may_see")),
    }


def _page(form: dict[str, Any], errors: dict[str, str] | None = None, status: int = 200):  # noqa: ANN202
    settings = site().settings()
    profile = site_settings.profile(site().engine)
    given = site().config.given
    saved = {f"{s}.{k}": "saved" if settings.is_saved(s, k) else "file" if (s, k) in given else ""
             for s, k in site_settings.EDITABLE}
    return render_template(
        "admin_settings.html", form=form, errors=errors or {}, visibilities=list(Visibility),
        timezones=site_settings.timezones(), saved=saved, profile=profile,
        avatar_size=human_size(site().config.get("site", "avatar_max_bytes")),
        limits={"display_name": site_settings.DISPLAY_NAME_MAX, "bio": site_settings.BIO_MAX,
                "title": site_settings.TITLE_MAX, "description": site_settings.DESCRIPTION_MAX}), status


@bp.route("/admin/settings")
@owner_required
def form():
    return _page(_current_form())


@bp.route("/admin/settings", methods=["POST"])
@owner_required
def save():
    upload = request.files.get("avatar")
    data = None
    if upload is not None and upload.filename:
        data = upload.stream.read(site().config.get("site", "avatar_max_bytes") + 1)
    sent = {name: request.form.get(name, "") for name in
            ("display_name", "bio", "title", "description", "timezone", "default_visibility",
             "manually_approves_followers", "remove_avatar", "copies_readers_may_see")}
    sent["copies_mode"] = request.form.get("copies_mode") or site().settings().get("copies", "mode")
    try:
        checked = site_settings.check(sent, data, site().config)
        saved = site_settings.save(site().engine, site().config, checked)
    except site_settings.SettingsInvalid as exc:
        shown = sent | {"manually_approves_followers": sent["manually_approves_followers"] == "on",
                        "copies_readers_may_see": sent["copies_readers_may_see"] == "on"}
        return _page(shown, exc.errors, 400)
    g.pop("linkblog_settings", None)
    g.pop("follow_info", None)
    if saved.changed:
        told = " Your followers' servers were sent the new profile." if saved.actor_update else ""
        flash(f"Saved: {', '.join(saved.changed)}.{told}")
    else:
        flash("Nothing changed.")
    return redirect("/admin/settings", 303)


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(exc: RequestEntityTooLarge):  # noqa: ANN202
    """A file far over the limit is cut off before the form can be read: say so on the form, not with a
    bare 413 page (nothing was saved, so the page shows the current values)."""
    if request.endpoint != "settings.save" or not is_owner():
        return exc
    return _page(_current_form(), {"avatar": too_large(site().config.get("site", "avatar_max_bytes"))}, 413)


@bp.get("/avatar/<digest>")
def avatar(digest: str) -> Response:
    if not DIGEST.match(digest):
        abort(404, description="There is no such image here.")
    with site().engine.connect() as conn:
        row = settings_reads.avatar(conn, digest)
    if row is None:
        abort(404, description="There is no such image here.")
    response = Response(row.data, content_type=row.media_type)
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"  # the URL names the bytes
    return response


# --- readers ------------------------------------------------------------------------------------------------


@bp.route("/about")
def about():
    with site().engine.connect() as conn:
        counts = settings_reads.public_counts(conn)
        moved = owner_reads.moved(conn)
    if follow_info() is None:
        abort(404, description="This site has no owner yet.")
    return render_template("about.html", counts=counts, moved=moved)


@bp.route("/follow")
def follow():
    """With ``?server=``: off to that server's page for following our actor. Without (or with a name we
    cannot use): the page with the form, which is also the fallback for browsers without JavaScript."""
    info = follow_info()
    if info is None:
        abort(404, description="This site has no owner yet.")
    typed = request.args.get("server", "")
    if typed.strip():
        host = server_name(typed)
        if host is not None:
            return redirect(f"https://{host}/authorize_interaction?" + urlencode({"uri": info["actor"]}), 303)
        error = (f"“{typed.strip()[:100]}” is not a server name. Type the address of the server your account is "
                 "on, such as mastodon.social (from your handle @you@mastodon.social).")
        return render_template("follow.html", server=typed, error=error), 400
    return render_template("follow.html", server="", error=None)


@bp.route("/authorize_interaction")
def authorize_interaction():
    """Our WebFinger's OStatus subscribe template points here: another site's "follow" button sends the
    owner here with the account to follow, and the owner's following page takes it from there."""
    uri = request.args.get("uri", "").strip()[:2048]
    return redirect("/admin/following" + (f"?account={quote(uri, safe='')}" if uri else ""), 303)
