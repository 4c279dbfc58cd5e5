"""Pinboard's v1 API under /v1/, so Pinboard apps and scripts work with this site unchanged.

Authentication, as Pinboard documents it: ``?auth_token=USER:TOKEN`` (USER is the owner's user name; only a
token made for Pinboard apps, and only here), or HTTP Basic with the owner's user name and either a token or
the password (the password counts against the login rate limit). The session cookie counts for nothing, so
the blueprint is ``csrf_exempt``; since every Pinboard method is a GET that a browser holding Basic
credentials could be tricked into sending, a request a browser marks as coming from another site
(``Sec-Fetch-Site``, ``Origin``) is refused. Bad input is answered 200 with the ``result_code`` Pinboard apps
read (``compat/pinboard.py`` holds the documents); nothing is changed.
"""
from __future__ import annotations

import dataclasses
import secrets
from datetime import datetime, time
from collections.abc import Iterator
from typing import Any, Callable
from urllib.parse import urlsplit

from flask import Blueprint, Response, g, request
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException

from .. import account, bookmarks, site, tokens
from ..bookmarks import NotFound, ValidationError
from ..compat import pinboard as pb
from ..compat.pinboard import Answer, PinboardError
from ..db import utcnow
from ..models import Owner
from ..passwords import verify_password
from ..queries import pinboard as reads
from ..queries.bookmarks import id_by_url
from ..queries.owner import owner_row
from ..states import Visibility
from ..tags import InvalidTag, clean_tag
from ..urls import InvalidURL, host_of, normalise_url
from .auth import login_refusal
from .security import csrf_exempt, no_store

bp = csrf_exempt(Blueprint("pinboard", __name__, url_prefix="/v1"))

METHODS = ["GET", "HEAD", "POST"]  # Pinboard's are all GETs; a POST with a form body is read alike
TOKEN_MAX = 256
REALM = 'Basic realm="API"'


# --- authentication ---------------------------------------------------------------------------------------------

def _plain(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response(message + "\n", status=status, mimetype="text/plain", headers=headers)


def _unauthorized() -> Response:
    return _plain(401, "401 Unauthorized: send ?auth_token=USER:TOKEN (a Pinboard token, `linkblog token create "
                       "NAME --pinboard`) or HTTP Basic credentials", {"WWW-Authenticate": REALM})


def _from_another_site() -> bool:
    """A browser sent this on another site's behalf (a link, an image, a form): the CSRF rule of /v1/."""
    if request.headers.get("Sec-Fetch-Site", "").lower() in ("cross-site", "same-site"):
        return True
    origin = request.headers.get("Origin")
    if origin is None:
        return False
    ours = urlsplit(site().config.base_url)
    return origin != f"{ours.scheme}://{ours.netloc}"


@bp.before_request
def authenticate() -> Response | None:
    if _from_another_site():
        return _plain(403, "403 Forbidden: the Pinboard API does not answer requests made by other sites")
    query_token = request.args.get("auth_token")
    credentials = request.authorization
    with site().engine.begin() as conn:
        owner = owner_row(conn, Owner.username, Owner.password_hash)
        if owner is None:
            return _unauthorized()
        if query_token is not None:
            parts = pb.split_token(query_token)
            if (parts is None or parts[0] != owner.username or len(parts[1]) > TOKEN_MAX
                    or tokens.authenticate(conn, parts[1], from_query_string=True) is None):
                return _unauthorized()
            g.pinboard_secret = parts[1]
        elif credentials is not None and credentials.type == "basic":
            refused = _basic(conn, owner, credentials.username or "", credentials.password or "")
            if refused is not None:
                return refused
        else:
            return _unauthorized()
    g.pinboard_user = owner.username
    return None


def _basic(conn: Connection, owner: Any, username: str, password: str) -> Response | None:
    """HTTP Basic: the owner's user name with a token (any live one: a header is not logged) or the password;
    a password is checked only within the login rate limit, and a wrong one counts toward it."""
    if (username == owner.username and 0 < len(password) <= TOKEN_MAX
            and tokens.authenticate(conn, password) is not None):
        g.pinboard_secret = password
        return None
    key = account.login_limit_key(request.remote_addr or "unknown")
    refused = login_refusal(conn, key)
    if refused is not None:
        return _plain(429, f"429 Too Many Requests: {refused}", {"Retry-After": str(
            site().config.get("security", "login_window"))})
    if username != owner.username or not verify_password(password, owner.password_hash):
        account.record_login_failure(conn, key, owner_account=username == owner.username)
        return _unauthorized()
    account.forget_login_failures(conn, key)
    g.pinboard_secret = None
    return None


bp.after_request(no_store)  # answers carry private items


# --- answers ----------------------------------------------------------------------------------------------------

def _format() -> str:
    return "json" if request.values.get("format") == "json" else "xml"


def _send(answer: Answer) -> Response:
    body, mimetype = answer.render(_format())
    return Response(body, mimetype=mimetype)


@bp.errorhandler(PinboardError)
def bad_input(exc: PinboardError) -> Response:
    """Pinboard answers bad input 200 with a code: ``result_code`` for posts, ``result`` for tags and user."""
    code = str(exc)
    tagged = request.path.startswith(("/v1/tags/", "/v1/user/"))
    return _send(pb.result(code) if tagged else pb.result_code(code))


@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException) -> Response:
    response = _plain(exc.code or 500, f"{exc.code} {exc.name}: {exc.description}")
    for name, value in exc.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def _route(rule: str) -> Callable[[Callable[[], Answer]], Callable[[], Response]]:
    def register(view: Callable[[], Answer]) -> Callable[[], Response]:
        def endpoint() -> Response:
            return _send(view())

        endpoint.__name__ = view.__name__
        bp.add_url_rule(rule, view_func=endpoint, methods=METHODS, strict_slashes=False)
        return endpoint

    return register


@bp.route("/", defaults={"rest": ""}, methods=METHODS)
@bp.route("/<path:rest>", methods=METHODS)
def unknown(rest: str) -> Response:
    return _plain(404, f"404 Not Found: there is no Pinboard API method {rest or '(none)'}")


# --- parameters -------------------------------------------------------------------------------------------------

def _param(name: str) -> str | None:
    value = request.values.get(name)
    return value if value is None else value.strip()


def _filter() -> reads.PostFilter | None:
    """The ``tag`` filter as cleaned names; None when a name cannot be a tag here (so nothing matches)."""
    names = pb.filter_tags(_param("tag"))
    try:
        return reads.PostFilter(tags=tuple(clean_tag(n) for n in names))
    except InvalidTag:
        return None


def _url(required: bool = True) -> str | None:
    """The ``url`` parameter normalised as saved; None when it cannot be a saved URL."""
    raw = _param("url")
    if not raw:
        if required:
            raise PinboardError(pb.MISSING_URL)
        return None
    try:
        return normalise_url(raw)
    except InvalidURL:
        return None


def _validation_message(exc: ValidationError) -> str:
    return "; ".join(exc.errors.values())


# --- posts ------------------------------------------------------------------------------------------------------

@_route("/posts/update")
def posts_update() -> Answer:
    with site().engine.connect() as conn:
        changed = reads.last_change(conn)
    return pb.update_time(changed or datetime(1970, 1, 1))


@_route("/posts/add")
def posts_add() -> Answer:
    """Save a bookmark, or replace the one at this URL (``replace=no``: refuse). ``shared`` left out keeps a
    replaced bookmark's visibility (a new one gets the site's default), and ``shared=no`` keeps it unlisted or
    followers-only if it was: only ``yes`` (public) and ``no`` (private) exist in Pinboard. The quote is
    not a Pinboard field and is kept."""
    if not _param("url"):
        raise PinboardError(pb.MISSING_URL)
    now = utcnow()
    replace = pb.yes_no(_param("replace"), "replace", True)
    shared = pb.yes_no(_param("shared"), "shared")
    toread = pb.yes_no(_param("toread"), "toread", False)
    dt = pb.parse_datetime(_param("dt") or "", "dt", now) if _param("dt") else None
    default = site().settings().get("site", "default_visibility")
    data = {"url": request.values.get("url"), "title": request.values.get("description", ""),
            "annotation": request.values.get("extended", ""), "tags": request.values.get("tags", ""),
            "toread": toread}
    try:
        item = bookmarks.validate(data, default)
    except ValidationError as exc:
        raise PinboardError(_validation_message(exc)) from None
    try:
        with site().engine.begin() as conn:
            existing = id_by_url(conn, item.url)
            if existing is None:
                visibility = item.visibility if shared is None else (Visibility.PUBLIC if shared else Visibility.PRIVATE)
                bookmarks.create(conn, dataclasses.replace(item, visibility=visibility), created_at=dt,
                                 config=site().config)
            elif not replace:
                raise PinboardError(pb.ALREADY_EXISTS)
            else:
                stored = bookmarks.load(conn, existing)
                visibility = stored.visibility
                if shared or (shared is False and stored.visibility == Visibility.PUBLIC):
                    visibility = Visibility.PUBLIC if shared else Visibility.PRIVATE
                bookmarks.edit(conn, existing, dataclasses.replace(item, visibility=visibility, quote=stored.quote),
                               config=site().config)
                if dt is not None:
                    bookmarks.move_saved_at(conn, existing, dt)
    except IntegrityError:  # saved by a concurrent request between the check and the insert
        raise PinboardError(pb.ALREADY_EXISTS) from None
    return pb.result_code(pb.DONE)


@_route("/posts/delete")
def posts_delete() -> Answer:
    url = _url()
    try:
        with site().engine.begin() as conn:
            bookmark_id = id_by_url(conn, url) if url else None
            if bookmark_id is None:
                raise NotFound(url)
            bookmarks.remove(conn, bookmark_id, config=site().config)
    except NotFound:
        raise PinboardError(pb.NOT_FOUND) from None
    return pb.result_code(pb.DONE)


@_route("/posts/get")
def posts_get() -> Answer:
    """The posts of one UTC day (``dt``; else the newest day with a matching post), or the one at ``url``."""
    which = _filter()
    raw_url = _param("url")
    url = _url(required=False)
    day = pb.parse_date(_param("dt") or "", "dt") if _param("dt") else None
    pb.yes_no(_param("meta"), "meta")
    items: list[dict[str, Any]] = []
    if which is not None and (url is not None or not raw_url):
        which = dataclasses.replace(which, url=url, day=day)
        with site().engine.connect() as conn:
            if day is None and url is None:
                day = reads.newest_day(conn, which)
                which = dataclasses.replace(which, day=day)
            if day is not None or url is not None:
                items = reads.posts(conn, which)
    moment = items[0]["created_at"] if items else (datetime.combine(day, time()) if day else utcnow())
    return pb.posts(items, user=g.pinboard_user, moment=moment, tags=pb.filter_tags(_param("tag")), day=day)


@_route("/posts/recent")
def posts_recent() -> Answer:
    count = min(pb.whole_number(_param("count"), "count", pb.RECENT_DEFAULT) or 0, pb.RECENT_MAX)
    which = _filter()
    items: list[dict[str, Any]] = []
    if which is not None and count:
        with site().engine.connect() as conn:
            items = reads.posts(conn, which, limit=count)
    moment = items[0]["created_at"] if items else utcnow()
    return pb.posts(items, user=g.pinboard_user, moment=moment, tags=pb.filter_tags(_param("tag")))


@bp.route("/posts/all", methods=METHODS, strict_slashes=False)
def posts_all() -> Response:
    """Every matching bookmark, newest first, sent while it is read (``compat.pinboard.all_posts``)."""
    now = utcnow()
    start = pb.whole_number(_param("start"), "start", 0) or 0
    results = pb.whole_number(_param("results"), "results")
    since = pb.parse_datetime(_param("fromdt") or "", "fromdt", now) if _param("fromdt") else None
    until = pb.parse_datetime(_param("todt") or "", "todt", now) if _param("todt") else None
    pb.yes_no(_param("meta"), "meta")
    which, fmt, engine = _filter(), _format(), site().engine
    names, user = pb.filter_tags(_param("tag")), g.pinboard_user

    def answer() -> Iterator[str]:
        if which is None or results == 0:
            yield from pb.all_posts([], fmt, user=user, tags=names)
            return
        with engine.connect() as conn:
            items = reads.each_post(conn, dataclasses.replace(which, since=since, until=until), start=start,
                                    limit=results)
            yield from pb.all_posts(items, fmt, user=user, tags=names)

    return Response(answer(), mimetype=pb.JSON_TYPE if fmt == "json" else pb.XML_TYPE)


@_route("/posts/dates")
def posts_dates() -> Answer:
    which = _filter()
    counts: list[tuple[str, int]] = []
    if which is not None:
        with site().engine.connect() as conn:
            counts = reads.day_counts(conn, which)
    return pb.dates(counts, user=g.pinboard_user, tags=pb.filter_tags(_param("tag")))


@_route("/posts/suggest")
def posts_suggest() -> Answer:
    """No one else's tags here, so ``popular`` is empty; ``recommended`` are the owner's: those on this URL's
    bookmark first, then those most used on its host."""
    url = _url()
    if url is None:
        raise PinboardError("the url is not an http:// or https:// address")
    with site().engine.connect() as conn:
        saved = reads.posts(conn, reads.PostFilter(url=url), limit=1)
        names = saved[0]["tags_text"].split() if saved else []
        names += [n for n in reads.host_tags(conn, host_of(url)) if n not in names]
    return pb.suggestions([], names[:reads.SUGGESTIONS])


# --- tags, user, notes ------------------------------------------------------------------------------------------

@_route("/tags/get")
def tags_get() -> Answer:
    with site().engine.connect() as conn:
        return pb.tag_counts(reads.tag_counts(conn))


def _tag_change(change: Callable[[Connection], object]) -> Answer:
    """A change to the owner's tags in one transaction, answered as Pinboard answers (``done``, or the reason)."""
    try:
        with site().engine.begin() as conn:
            change(conn)
    except ValidationError as exc:
        raise PinboardError(_validation_message(exc)) from None
    except NotFound:
        raise PinboardError(pb.NOT_FOUND) from None
    return pb.result(pb.DONE)


@_route("/tags/delete")
def tags_delete() -> Answer:
    name = _param("tag")
    if not name:
        raise PinboardError("missing tag")
    return _tag_change(lambda conn: bookmarks.delete_tag(conn, name))


@_route("/tags/rename")
def tags_rename() -> Answer:
    """Rename a tag, or fold it into an existing one."""
    old, new = _param("old"), _param("new")
    if not old or not new:
        raise PinboardError(f"missing {'old' if not old else 'new'}")
    return _tag_change(lambda conn: bookmarks.rename_tag(conn, old, new))


@_route("/user/api_token")
def user_api_token() -> Answer:
    """The token the app authenticated with. An app that logged in with the password (to trade it for a
    token, as Pinboard asks apps to) gets a new Pinboard token, listed on the tokens page to revoke."""
    secret = g.get("pinboard_secret")
    if secret is None:
        name = f"pinboard-app-{utcnow():%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"
        with site().engine.begin() as conn:
            secret = tokens.create_token(conn, name, pinboard=True)
    return pb.result(secret)


@_route("/notes/list")
def notes_list() -> Answer:
    return pb.notes()
