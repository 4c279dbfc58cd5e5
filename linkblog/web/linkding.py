"""linkding's REST API, so its browser extension, its phone apps and its client libraries work with linkblog.

The paths are linkding's: ``/api/bookmarks/``, ``/api/tags/``, ``/api/user/profile/`` and ``/health``. Every
linkding path ends in a slash and none of linkblog's own API paths does, so ``/api/bookmarks`` (ours) and
``/api/bookmarks/`` (linkding's) are two different rules and neither redirects to the other.

Authentication is linkding's: ``Authorization: Token <key>`` (or ``Bearer <key>``, which linkding accepts
too) with a token from /admin/tokens or ``linkblog token create``. The session cookie counts for nothing
here, which is why the blueprint may skip the form CSRF check. Errors come in linkding's (Django REST
framework's) shapes: ``{"detail": "..."}``, and ``{"field": ["message"]}`` for bad input, which changes nothing.
The mapping between the two models is in ``compat/linkding.py``.
"""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Callable
from urllib.parse import urlencode

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from werkzeug.exceptions import HTTPException

from .. import bookmarks, site, tokens
from ..bookmarks import DuplicateBookmark, NotFound, ValidationError
from ..compat import linkding as ld
from ..dates import parse_iso_datetime
from ..db import utcnow
from ..queries import bookmarks as bookmark_reads, linkding as reads
from ..tags import InvalidTag, clean_tag
from ..urls import InvalidURL, normalise_url
from .security import csrf_exempt

bp = csrf_exempt(Blueprint("linkding", __name__))

ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
TOKEN_MAX = 256
ID_MAX = 2**63 - 1
DEFAULT_LIMIT = 100       # linkding's page size
MAX_BOOKMARK_LIMIT = 1000  # a larger ?limit= is cut to this (Django REST framework's max_limit behaviour)
MAX_TAG_LIMIT = 5000       # the browser extension asks for 5000 tags at once
OPEN_ENDPOINTS = ("linkding.health", "linkding.unknown")


class Failed(HTTPException):
    """An answer in linkding's shape, raised from anywhere in a view."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None):
        super().__init__(description=json.dumps(body))
        self.code, self.body, self.extra = status, body, headers or {}

    def get_response(self, environ: Any = None, scope: Any = None) -> Response:  # noqa: ARG002
        response = jsonify(self.body)
        response.status_code = self.code or 400
        response.headers.update(self.extra)
        return response


def fail(status: int, detail: str, headers: dict[str, str] | None = None) -> Failed:
    return Failed(status, {"detail": detail}, headers)


# --- authentication -------------------------------------------------------------------------------------------

def _unauthorized(detail: str) -> Response:
    return fail(401, detail, {"WWW-Authenticate": "Token"}).get_response()


@bp.before_request
def require_token() -> Response | None:
    """linkding's token check, word for word in its answers; /health and unknown paths need no token."""
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    parts = request.headers.get("Authorization", "").split()
    if not parts or parts[0].lower() not in ("token", "bearer"):
        return _unauthorized("Authentication credentials were not provided.")
    if len(parts) == 1:
        return _unauthorized("Invalid token header. No credentials provided.")
    if len(parts) > 2:
        return _unauthorized("Invalid token header. Token string should not contain spaces.")
    if len(parts[1]) > TOKEN_MAX:
        return _unauthorized("Invalid token.")
    with site().engine.begin() as conn:
        if tokens.authenticate(conn, parts[1]) is None:
            return _unauthorized("Invalid token.")
    return None


@bp.after_request
def no_store(response: Response) -> Response:
    if request.endpoint != "linkding.health":
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException) -> Response:
    if isinstance(exc, Failed):
        return exc.get_response()
    response = jsonify(detail=exc.description or exc.name)
    response.status_code = exc.code or 500
    return response


# --- routing: every method reaches the view, which answers linkding's 405 itself --------------------------------

def route(rule: str, name: str, **handlers: Callable[..., Any]) -> None:
    """``rule`` answering the methods in ``handlers`` (get=, post=, ...); any other gets linkding's 405."""
    allowed = sorted(m.upper() for m in handlers) + (["HEAD"] if "get" in handlers else [])

    def view(**kwargs: Any) -> Any:
        if request.method == "OPTIONS":
            return Response(status=200, headers={"Allow": ", ".join([*allowed, "OPTIONS"])})
        method = "get" if request.method == "HEAD" else request.method.lower()
        if method not in handlers:
            raise Failed(405, {"detail": f'Method "{request.method}" not allowed.'},
                         {"Allow": ", ".join([*allowed, "OPTIONS"])})
        return handlers[method](**kwargs)

    bp.add_url_rule(rule, name, view, methods=ALL_METHODS, provide_automatic_options=False)


# --- request bodies and query strings ---------------------------------------------------------------------------

def body() -> dict[str, Any]:
    """The body as Django REST framework parses it: JSON, a form or multipart; 415 for anything else."""
    raw = request.get_data(cache=True)
    if request.mimetype == "application/json":
        try:
            data = json.loads(raw.decode("utf-8")) if raw.strip() else {}
        except (ValueError, RecursionError) as exc:
            raise fail(400, f"JSON parse error - {exc}") from None
        if not isinstance(data, dict):
            raise Failed(400, {"non_field_errors": [
                f"Invalid data. Expected a dictionary, but got {type(data).__name__}."]})
        return data
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return {key: (request.form.getlist(key) if key == "tag_names" else request.form[key]) for key in request.form}
    if not raw and not request.mimetype:
        return {}
    raise fail(415, f'Unsupported media type "{request.mimetype}" in request.')


def _whole(name: str, default: int, *, cutoff: int | None = None, positive: bool = False) -> int:
    """linkding's (DRF's) ``limit``/``offset``: a bad value means the default, a large limit the cutoff."""
    raw = request.args.get(name, "")
    if not (raw.isascii() and raw.isdigit()) or (positive and int(raw) == 0):
        return default
    return min(int(raw), cutoff) if cutoff else int(raw)


def _page_link(offset: int | None, limit: int) -> str:
    args = [(k, v) for k, v in request.args.items(multi=True) if k not in ("limit", "offset")]
    args.append(("limit", str(limit)))
    if offset:
        args.append(("offset", str(offset)))
    return site().config.base_url + request.path + "?" + urlencode(args)


def paged(items: list[dict[str, Any]], total: int, limit: int, offset: int) -> Response:
    """linkding's list shape: ``count``, ``next``, ``previous``, ``results``."""
    following = _page_link(offset + limit, limit) if offset + limit < total else None
    previous = None if offset <= 0 else _page_link(max(offset - limit, 0) or None, limit)
    return jsonify(count=total, next=following, previous=previous, results=items)


def _since(name: str) -> datetime | None:
    """``added_since``/``modified_since``: a date linkding cannot read is ignored, here too."""
    return parse_iso_datetime(request.args.get(name))


def _yes_no(name: str) -> bool | None:
    return {"yes": True, "no": False}.get(request.args.get(name, ""))


def _bookmark_404() -> Failed:
    return fail(404, "No Bookmark matches the given query.")


def _load(conn: Connection, bookmark_id: int) -> dict[str, Any]:
    item = reads.bookmark(conn, bookmark_id) if bookmark_id <= ID_MAX else None
    if item is None:
        raise _bookmark_404()
    return ld.bookmark_json(item)


# --- bookmarks --------------------------------------------------------------------------------------------------

def list_bookmarks(archived: bool | None = False, shared: bool | None = None) -> Response:
    limit = _whole("limit", DEFAULT_LIMIT, cutoff=MAX_BOOKMARK_LIMIT, positive=True)
    offset = _whole("offset", 0)
    try:
        search = ld.parse_query(request.args.get("q"))
    except ld.SearchSyntaxError:
        return paged([], 0, limit, offset)  # linkding answers a query it cannot parse with no results
    filters = reads.ListFilters(archived=archived, search=search, unread=_yes_no("unread"),
                                shared=shared or _yes_no("shared"), added_since=_since("added_since"),
                                modified_since=_since("modified_since"))
    with site().engine.connect() as conn:
        items, total = reads.bookmarks(conn, filters, limit=limit, offset=offset,
                                       sort=request.args.get("sort", "added_desc"))
    return paged([ld.bookmark_json(i) for i in items], total, limit, offset)


def _validated(changes: ld.Changes, partial: bookmarks.BookmarkInput | None, default: str) -> bookmarks.BookmarkInput:
    fields = dict(changes.fields)
    current = partial.visibility if partial is not None else default
    if changes.shared is not None:
        fields["visibility"] = ld.visibility_for(changes.shared, current)
    elif partial is None:
        fields["visibility"] = default
    try:
        return bookmarks.validate(fields, default, partial=partial)
    except ValidationError as exc:
        raise Failed(400, ld.their_errors(exc.errors)) from None


def _archive(conn: Connection, bookmark_id: int, archived: bool | None) -> None:
    if archived is not None:
        bookmarks.set_archived(conn, bookmark_id, archived)


def create_bookmark() -> Response:
    """linkding's create: a URL already saved updates that bookmark with what was sent (still 201)."""
    try:
        changes = ld.read_body(body(), creating=True)
    except ld.FieldErrors as exc:
        raise Failed(400, exc.errors) from None
    default = site().settings().get("site", "default_visibility")
    item = _validated(changes, None, default)
    config = site().config
    for attempt in (1, 2):
        try:
            with site().engine.begin() as conn:
                existing = bookmark_reads.id_by_url(conn, item.url)
                if existing is None:
                    bookmark_id = bookmarks.create(conn, item, created_at=changes.added, config=config)
                else:
                    bookmark_id = existing
                    merged = _validated(changes, bookmarks.load(conn, existing), default)
                    bookmarks.edit(conn, existing, merged, config=config)
                _archive(conn, bookmark_id, changes.archived)
            break
        except (IntegrityError, DuplicateBookmark):  # saved by a concurrent request: merge into it this time
            if attempt == 2:
                raise fail(409, "Another request saved this address at the same moment; try again.") from None
    with site().engine.connect() as conn:
        response = jsonify(_load(conn, bookmark_id))
    response.status_code = 201
    return response


def get_bookmark(bookmark_id: int) -> Response:
    with site().engine.connect() as conn:
        return jsonify(_load(conn, bookmark_id))


def _update(bookmark_id: int, *, full: bool) -> Response:
    """PUT needs ``url`` (linkding's one required field); both leave out what is not sent."""
    if bookmark_id > ID_MAX:
        raise _bookmark_404()
    data = body()
    try:
        changes = ld.read_body(data, creating=full)
    except ld.FieldErrors as exc:
        raise Failed(400, exc.errors) from None
    default = site().settings().get("site", "default_visibility")
    try:
        with site().engine.begin() as conn:
            item = _validated(changes, bookmarks.load(conn, bookmark_id), default)
            bookmarks.edit(conn, bookmark_id, item, config=site().config)
            _archive(conn, bookmark_id, changes.archived)
    except NotFound:
        raise _bookmark_404() from None
    except (DuplicateBookmark, IntegrityError):
        raise Failed(400, {"url": ["A bookmark with this URL already exists."]}) from None
    with site().engine.connect() as conn:
        return jsonify(_load(conn, bookmark_id))


def delete_bookmark(bookmark_id: int) -> Response:
    try:
        with site().engine.begin() as conn:
            if bookmark_id > ID_MAX:
                raise NotFound(bookmark_id)
            bookmarks.remove(conn, bookmark_id, config=site().config)
    except NotFound:
        raise _bookmark_404() from None
    return Response(status=204)


def _set_archived(bookmark_id: int, archived: bool) -> Response:
    try:
        with site().engine.begin() as conn:
            if bookmark_id > ID_MAX:
                raise NotFound(bookmark_id)
            bookmarks.set_archived(conn, bookmark_id, archived)
    except NotFound:
        raise _bookmark_404() from None
    return Response(status=204)


def check() -> Response:
    """Is this address saved? linkding's answer, without scraping the page (see ``ld.check_metadata``)."""
    url = request.args.get("url")
    if url is None:
        raise Failed(400, {"url": ["This field is required."]})
    found = None
    try:
        normalised = normalise_url(url)
    except InvalidURL:
        normalised = None
    with site().engine.connect() as conn:
        existing = bookmark_reads.id_by_url(conn, normalised) if normalised else None
        if existing is not None:
            found = _load(conn, existing)
    return jsonify(bookmark=found, metadata=ld.check_metadata(url), auto_tags=[])


route("/api/bookmarks/", "bookmarks", get=list_bookmarks, post=create_bookmark)
route("/api/bookmarks/archived/", "archived", get=lambda: list_bookmarks(archived=True))
route("/api/bookmarks/check/", "check", get=check)
# linkding's shared list: every user's shared bookmarks, archived or not; here the one owner's public and unlisted.
route("/api/bookmarks/shared/", "shared", get=lambda: list_bookmarks(archived=None, shared=True))
route("/api/bookmarks/<int:bookmark_id>/", "bookmark", get=get_bookmark,
      put=lambda bookmark_id: _update(bookmark_id, full=True), patch=lambda bookmark_id: _update(bookmark_id, full=False),
      delete=delete_bookmark)
route("/api/bookmarks/<int:bookmark_id>/archive/", "archive", post=lambda bookmark_id: _set_archived(bookmark_id, True))
route("/api/bookmarks/<int:bookmark_id>/unarchive/", "unarchive",
      post=lambda bookmark_id: _set_archived(bookmark_id, False))


# --- tags, the profile, health -----------------------------------------------------------------------------------

def _tag_json(tag: dict[str, Any]) -> dict[str, Any]:
    """A tag no bookmark uses yet (just made through POST /api/tags/) has no first use: it is dated now."""
    return ld.tag_json({**tag, "date_added": tag["date_added"] or utcnow()})


def list_tags() -> Response:
    limit = _whole("limit", DEFAULT_LIMIT, cutoff=MAX_TAG_LIMIT, positive=True)
    offset = _whole("offset", 0)
    with site().engine.connect() as conn:
        items, total = reads.tags(conn, limit=limit, offset=offset)
    return paged([_tag_json(t) for t in items], total, limit, offset)


def create_tag() -> Response:
    """linkding's get-or-create: an existing name answers with that tag. A tag no bookmark uses is dropped
    again the next time a bookmark changes (linkblog keeps no unused tags)."""
    data = body()
    name = data.get("name")
    if "name" not in data:
        raise Failed(400, {"name": ["This field is required."]})
    if not isinstance(name, str) or isinstance(name, bool):
        raise Failed(400, {"name": ["Not a valid string."]})
    try:
        cleaned = clean_tag(name)
    except InvalidTag as exc:
        raise Failed(400, {"name": [str(exc)]}) from None
    with site().engine.begin() as conn:
        bookmarks.ensure_tag_ids(conn, [cleaned])
        tag = reads.tag(conn, name=cleaned)
    response = jsonify(_tag_json(tag or {"id": 0, "name": cleaned, "date_added": None}))
    response.status_code = 201
    return response


def get_tag(tag_id: int) -> Response:
    with site().engine.connect() as conn:
        tag = reads.tag(conn, tag_id=tag_id) if tag_id <= ID_MAX else None
    if tag is None:
        raise fail(404, "No Tag matches the given query.")
    return jsonify(_tag_json(tag))


def delete_tag(tag_id: int) -> Response:
    """linkding's tag delete: the tag comes off every bookmark (edits, federated as such), then goes."""
    try:
        with site().engine.begin() as conn:
            tag = reads.tag(conn, tag_id=tag_id) if tag_id <= ID_MAX else None
            if tag is None:
                raise NotFound(tag_id)
            bookmarks.remove_tag(conn, tag["name"], config=site().config)
    except NotFound:
        raise fail(404, "No Tag matches the given query.") from None
    return Response(status=204)


def profile() -> Response:
    return jsonify(ld.profile_json())


route("/api/tags/", "tags", get=list_tags, post=create_tag)
route("/api/tags/<int:tag_id>/", "tag", get=get_tag, delete=delete_tag)
route("/api/user/profile/", "profile", get=profile)


@bp.route("/health", methods=["GET", "HEAD"])
def health() -> Response:
    """What linkding's clients call first: the version they compare with their minimum, and the database."""
    try:
        with site().engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError:
        response = jsonify(version=ld.LINKDING_VERSION, status="unhealthy")
        response.status_code = 500
        return response
    response = jsonify(version=ld.LINKDING_VERSION, status="healthy")
    response.headers["Cache-Control"] = "no-store"
    return response


# linkding paths this server does not serve, answered 404 as linkding answers a path it does not know; without
# these they would reach linkblog's own API, whose 401 (no Bearer token) linkding clients read as a bad token.
NOT_SERVED = ("/api/bundles/", "/api/bundles/<path:rest>", "/api/bookmarks/singlefile/",
              "/api/bookmarks/<int:bookmark_id>/assets/", "/api/bookmarks/<int:bookmark_id>/assets/<path:rest>",
              "/api/bookmarks/<int:bookmark_id>/<path:rest>", "/api/tags/<path:rest>", "/api/user/<path:rest>")


def unknown(**_: Any) -> Response:
    raise fail(404, "Not found.")


for rule in NOT_SERVED:
    bp.add_url_rule(rule, "unknown", unknown, methods=ALL_METHODS, provide_automatic_options=False)
