"""JSON API for scripts and phone shortcuts: bookmarks and weeknotes behind bearer tokens.

Only ``Authorization: Bearer`` authenticates here, never the session cookie, which is why this blueprint may
skip the form CSRF check. Every URL accepts every method and answers a wrong one itself (JSON 405 with
``Allow``): a request that matched no API rule would not belong to the blueprint and would meet that CSRF
check instead. A catch-all rule does the same for unknown paths (JSON 404).
"""
from __future__ import annotations

import json
from datetime import datetime
from types import ModuleType
from typing import Any, Callable

from flask import Blueprint, Response, abort, g, jsonify, request, url_for
from flask.views import MethodView
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException

from .. import bookmarks, site, tokens, weeknotes
from ..bookmarks import DuplicateBookmark, NotFound, ValidationError
from ..config import VISIBILITIES
from ..links import copies
from ..queries import bookmarks as bookmark_reads, weeknotes as weeknote_reads
from ..queries.paging import Cursor
from ..tags import InvalidTag, clean_tag
from ..weeknotes import STATUSES, InvalidWeek, parse_week
from . import absolute, iso
from .security import csrf_exempt, no_store

bp = csrf_exempt(Blueprint("api", __name__, url_prefix="/api"))

ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
ID_MAX = 2**63 - 1  # a larger id cannot exist, and would overflow the database's integer
TOKEN_MAX = 256
DEFAULT_LIMIT, MAX_LIMIT = 20, 100

Checker = Callable[[Any], "str | None"]


# --- authentication -------------------------------------------------------------------------------------------

def _unauthorized(message: str, error: str | None = None) -> Response:
    challenge = 'Bearer realm="linkblog"' + (f', error="{error}"' if error else "")
    response = jsonify(error=message)
    response.status_code = 401
    response.headers["WWW-Authenticate"] = challenge
    return response


@bp.before_request
def require_token() -> Response | None:
    """Every API request needs a live token; a logged-in browser session counts for nothing here."""
    header = request.headers.get("Authorization", "").strip()
    if not header:
        return _unauthorized("Send an API token as 'Authorization: Bearer <token>' "
                             "(create one with `linkblog token create NAME`).")
    scheme, _, secret = header.partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret or " " in secret or len(secret) > TOKEN_MAX:
        return _unauthorized("The Authorization header must be 'Bearer <token>'.", "invalid_request")
    with site().engine.begin() as conn:
        token_id = tokens.authenticate(conn, secret)
    if token_id is None:
        return _unauthorized("This token is unknown or has been revoked.", "invalid_token")
    g.api_token_id = token_id
    return None


bp.after_request(no_store)  # answers carry private items


# --- request bodies and query strings ---------------------------------------------------------------------------

def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _json_object() -> dict[str, Any]:
    """The body as a JSON object; 415 for another media type, 413 beyond MAX_CONTENT_LENGTH, 400 otherwise."""
    if request.mimetype != "application/json":
        abort(415, description="Send the body as JSON with the header 'Content-Type: application/json'.")
    raw = request.get_data(cache=False)
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        abort(400, description="The body is not valid JSON (UTF-8).")
    if not isinstance(data, dict):
        abort(400, description='The body must be a JSON object, like {"url": "https://example.org/"}.')
    return data


def _text(value: Any) -> str | None:
    return None if isinstance(value, str) else "must be a string."


def _text_or_null(value: Any) -> str | None:
    return None if value is None or isinstance(value, str) else "must be a string (or null to clear it)."


def _tags(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return None
    return 'must be a list of strings, like ["python", "web"].'


def _boolean(value: Any) -> str | None:
    return None if isinstance(value, bool) else "must be true or false."


def _one_of(choices: tuple[str, ...]) -> Checker:
    def check(value: Any) -> str | None:
        return None if isinstance(value, str) and value in choices else f"must be one of {', '.join(choices)}."

    return check


BOOKMARK_FIELDS: dict[str, Checker] = {
    "url": _text, "title": _text_or_null, "annotation": _text_or_null, "quote": _text_or_null, "tags": _tags,
    "visibility": _one_of(VISIBILITIES), "toread": _boolean,
}
WEEKNOTE_FIELDS: dict[str, Checker] = {
    "week": _text, "title": _text_or_null, "body": _text_or_null, "status": _one_of(STATUSES),
    "visibility": _one_of(VISIBILITIES),
    "reveal": _boolean,  # write-only: confirms publishing non-public bookmarks to the note's readers
}


def _invalid(error: str, fields: dict[str, str]) -> Response:
    response = jsonify(error=error, fields=fields)
    response.status_code = 400
    return response


def _check_fields(data: dict[str, Any], spec: dict[str, Checker], required: tuple[str, ...] = (),
                  validate: Callable[[dict[str, Any]], Any] | None = None) -> None:
    """Unknown fields and wrong JSON types are refused before the model's own validation sees the data; when
    some are, ``validate`` still checks the well-typed rest, so one answer lists every bad field."""
    unknown = sorted(key for key in data if key not in spec)
    if unknown:
        abort(_invalid(f"Unknown field{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)} "
                       f"(the fields are {', '.join(spec)}).",
                       {key: "Unknown or read-only field." for key in unknown}))
    errors = {key: f"{key} is required." for key in required if key not in data}
    for key, value in data.items():
        problem = spec[key](value)
        if problem and key not in errors:
            errors[key] = f"{key} {problem}"
    if errors:
        if validate is not None:
            try:
                validate({key: value for key, value in data.items() if key not in errors})
            except ValidationError as exc:
                errors.update({key: message for key, message in exc.errors.items() if key not in errors})
        abort(_invalid("; ".join(errors.values()), errors))


def _validation_failed(exc: ValidationError) -> Response:
    return _invalid(str(exc), exc.errors)


def _query(allowed: tuple[str, ...]) -> dict[str, str]:
    """Known query parameters only, each at most once, so a typo like ``?tags=`` is not silently ignored."""
    unknown = sorted(set(request.args) - set(allowed))
    if unknown:
        abort(400, description=f"Unknown query parameter(s): {', '.join(unknown)} "
                               f"(this list takes {', '.join(allowed)}).")
    repeated = sorted(k for k in request.args if len(request.args.getlist(k)) > 1)
    if repeated:
        abort(400, description=f"Give each query parameter once (repeated: {', '.join(repeated)}).")
    return request.args.to_dict()


def _limit(args: dict[str, str]) -> int:
    raw = args.get("limit", str(DEFAULT_LIMIT))
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        abort(400, description=f"limit must be a whole number from 1 to {MAX_LIMIT} (got {raw!r}).")
    return int(raw)


def _visibility_filter(args: dict[str, str]) -> str | None:
    value = args.get("visibility")
    if value is not None and value not in VISIBILITIES:
        abort(400, description=f"visibility must be one of {', '.join(VISIBILITIES)} (got {value!r}).")
    return value


def _filtered_listing(reads: ModuleType, filters: Any, *, endpoint: str, args: dict[str, str],
                      as_json: Callable[[dict[str, Any]], dict[str, Any]], **position: Any) -> Response:
    """One page of a filtered list with its total and the link to the next page: both lists answer alike."""
    with site().engine.connect() as conn:
        page = reads.filtered(conn, filters, **position)
        total = reads.filtered_count(conn, filters)
    next_url = absolute(url_for(endpoint, **{**args, "before": page.next})) if page.next else None
    return jsonify(items=[as_json(r) for r in page.items], total=total, next=next_url)


# --- JSON shapes ------------------------------------------------------------------------------------------------

def _bookmark_json(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": item["id"], "url": item["url"], "title": item["title"], "annotation": item["annotation"],
        "annotation_html": item["annotation_html"], "quote": item["quote"], "tags": item["tags"],
        "visibility": item["visibility"], "toread": bool(item["toread"]), "created": iso(item["created_at"]),
        "updated": iso(item["updated_at"]), "permalink": absolute(f"/bookmarks/{item['id']}"),
    }


def _weeknote_json(item: dict[str, Any]) -> dict[str, Any]:
    published: datetime | None = item["published_at"]
    return {
        "id": item["id"], "week": item["week"], "title": item["title"], "body": item["body"],
        "body_html": item["body_html"], "status": item["status"], "visibility": item["visibility"],
        "created": iso(item["created_at"]), "updated": iso(item["updated_at"]),
        "published": iso(published) if published else None, "permalink": absolute(f"/weeknotes/{item['week']}"),
    }


def _load_bookmark(conn: Connection, bookmark_id: int) -> dict[str, Any]:
    item = bookmark_reads.bookmark(conn, bookmark_id)
    if item is None:
        abort(404, description=f"There is no bookmark {bookmark_id}.")
    return _bookmark_json(item)


def _load_weeknote(conn: Connection, week: str) -> dict[str, Any] | None:
    note = weeknote_reads.weeknote(conn, week)
    return _weeknote_json(note) if note else None


def _bookmark_conflict(conn: Connection, bookmark_id: int, message: str) -> tuple[Response, int]:
    existing = _load_bookmark(conn, bookmark_id)
    return jsonify(error=message, id=bookmark_id, url=existing["url"], bookmark=existing), 409


def _weeknote_conflict(conn: Connection, week: str) -> tuple[Response, int]:
    existing = _load_weeknote(conn, week)
    if existing is None:  # the other note vanished again; the client can simply retry
        abort(409, description=f"Another request changed the weeknote for {week}; try again.")
    return jsonify(error=f"There is already a weeknote for {week}.", id=existing["id"], week=week,
                   weeknote=existing), 409


# --- routing ----------------------------------------------------------------------------------------------------

@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException) -> Response:
    """Like the app's JSON errors, but keeping the exception's headers (``Allow`` on a 405)."""
    response = jsonify(error=exc.description or exc.name)
    response.status_code = exc.code or 500
    for name, value in exc.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


class Resource(MethodView):
    """Registered for every method, so an unsupported one gets a JSON 405 from here (behind the token check)."""

    def dispatch_request(self, **kwargs: Any) -> Any:
        allowed = sorted((self.methods or set()) | ({"HEAD"} if "GET" in (self.methods or ()) else set()))
        if request.method == "OPTIONS":
            return Response(status=204, headers={"Allow": ", ".join([*allowed, "OPTIONS"])},
                            mimetype="application/json")
        if request.method not in allowed:
            abort(405, valid_methods=[*allowed, "OPTIONS"],
                  description=f"{request.method} is not allowed here; use {', '.join(allowed)}.")
        return super().dispatch_request(**kwargs)


def _route(rule: str, view: type[Resource], name: str) -> None:
    bp.add_url_rule(rule, view_func=view.as_view(name), methods=ALL_METHODS, provide_automatic_options=False)


@bp.route("/", defaults={"rest": ""}, methods=ALL_METHODS, provide_automatic_options=False)
@bp.route("/<path:rest>", methods=ALL_METHODS, provide_automatic_options=False)
def unknown(rest: str) -> Response:
    abort(404, description=f"There is no API endpoint /api/{rest}; the endpoints are /api/bookmarks and "
                           "/api/weeknotes.")


# --- bookmarks --------------------------------------------------------------------------------------------------

class BookmarkList(Resource):
    def get(self) -> Response:
        args = _query(("before", "limit", "tag", "visibility", "toread"))
        limit = _limit(args)
        toread = tag = None
        if "toread" in args:
            if args["toread"] not in ("true", "false"):
                abort(400, description="'toread' must be true or false.")
            toread = args["toread"] == "true"
        if "tag" in args:
            try:
                tag = clean_tag(args["tag"])
            except InvalidTag as exc:
                abort(400, description=str(exc))
        filters = bookmark_reads.Filters(toread=toread, tag=tag, visibility=_visibility_filter(args))
        cursor = None
        if "before" in args:
            cursor = Cursor.decode(args["before"])
            if cursor is None or cursor.kind != "b":
                abort(400, description="The 'before' value is not a bookmark cursor; use the 'next' link as given.")
        return _filtered_listing(bookmark_reads, filters, endpoint="api.bookmarks", args=args, as_json=_bookmark_json,
                                 size=limit, cursor=cursor)

    def post(self) -> Any:
        data = _json_object()
        default = site().settings().get("site", "default_visibility")
        _check_fields(data, BOOKMARK_FIELDS, required=("url",),
                      validate=lambda rest: bookmarks.validate({"url": "", **rest}, default))
        try:
            item = bookmarks.validate(data, default)
        except ValidationError as exc:
            return _validation_failed(exc)
        try:
            with site().engine.begin() as conn:
                bookmark_id = bookmarks.create(conn, item, config=site().config,
                                               copy_page=copies.wanted(site().settings(), imported=False))
        except DuplicateBookmark as exc:
            return self._already_saved(exc.bookmark_id)
        except IntegrityError:  # saved by a concurrent request between the check and the insert
            with site().engine.connect() as conn:
                existing = bookmark_reads.id_by_url(conn, item.url)
            if existing is None:
                raise
            return self._already_saved(existing)
        with site().engine.connect() as conn:
            body = _load_bookmark(conn, bookmark_id)
        response = jsonify(body)
        response.status_code = 201
        response.headers["Location"] = absolute(url_for("api.bookmark", bookmark_id=bookmark_id))
        return response

    @staticmethod
    def _already_saved(bookmark_id: int) -> tuple[Response, int]:
        with site().engine.connect() as conn:
            return _bookmark_conflict(conn, bookmark_id, f"This address is already saved as bookmark {bookmark_id}.")


class BookmarkItem(Resource):
    def dispatch_request(self, bookmark_id: int) -> Any:
        if bookmark_id > ID_MAX:
            abort(404, description=f"There is no bookmark {bookmark_id}.")
        return super().dispatch_request(bookmark_id=bookmark_id)

    def get(self, bookmark_id: int) -> Any:
        with site().engine.connect() as conn:
            return jsonify(_load_bookmark(conn, bookmark_id))

    def patch(self, bookmark_id: int) -> Any:
        """Partial update: fields left out keep their stored values (null clears a text field)."""
        data = _json_object()
        def validate_rest(rest: dict[str, Any]) -> None:
            with site().engine.connect() as conn:
                try:
                    stored = bookmarks.load(conn, bookmark_id)
                except NotFound:
                    return
            bookmarks.validate(rest, partial=stored)

        _check_fields(data, BOOKMARK_FIELDS, validate=validate_rest)
        try:
            with site().engine.begin() as conn:
                item = bookmarks.validate(data, partial=bookmarks.load(conn, bookmark_id))
                bookmarks.edit(conn, bookmark_id, item, config=site().config)
        except NotFound:
            abort(404, description=f"There is no bookmark {bookmark_id}.")
        except ValidationError as exc:
            return _validation_failed(exc)
        except DuplicateBookmark as exc:
            with site().engine.connect() as conn:
                return _bookmark_conflict(conn, exc.bookmark_id,
                                          f"Another bookmark ({exc.bookmark_id}) already has this address.")
        except IntegrityError:
            abort(409, description="Another request saved this address at the same moment; try again.")
        with site().engine.connect() as conn:
            return jsonify(_load_bookmark(conn, bookmark_id))

    def delete(self, bookmark_id: int) -> Any:
        try:
            with site().engine.begin() as conn:
                bookmarks.remove(conn, bookmark_id, config=site().config)
        except NotFound:
            abort(404, description=f"There is no bookmark {bookmark_id}.")
        return Response(status=204, mimetype="application/json")


# --- weeknotes --------------------------------------------------------------------------------------------------

def _week_or_404(week: str) -> None:
    try:
        parse_week(week)
    except InvalidWeek as exc:
        abort(404, description=str(exc))


class WeeknoteList(Resource):
    def get(self) -> Response:
        args = _query(("before", "limit", "status", "visibility"))
        limit = _limit(args)
        status = args.get("status")
        if status is not None and status not in STATUSES:
            abort(400, description=f"status must be draft or published (got {status!r}).")
        filters = weeknote_reads.Filters(status=status, visibility=_visibility_filter(args))
        if "before" in args:
            try:
                parse_week(args["before"])
            except InvalidWeek as exc:
                abort(400, description=f"before: {exc}")
        return _filtered_listing(weeknote_reads, filters, endpoint="api.weeknotes", args=args, as_json=_weeknote_json,
                                 size=limit, before=args.get("before"))

    def post(self) -> Any:
        data = _json_object()
        _check_fields(data, WEEKNOTE_FIELDS, required=("week",),
                      validate=lambda rest: weeknotes.validate({"week": "", **rest}))
        try:
            item = weeknotes.validate(data)
        except ValidationError as exc:
            return _validation_failed(exc)
        try:
            with site().engine.begin() as conn:
                if weeknote_reads.stored(conn, item.week) is not None:
                    return _weeknote_conflict(conn, item.week)
                weeknotes.save(conn, item, config=site().config, reveal=data.get("reveal") is True)
        except ValidationError as exc:  # non-public bookmarks in a published note, without "reveal": true
            return _validation_failed(exc)
        except IntegrityError:  # written by a concurrent request between the check and the insert
            with site().engine.connect() as conn:
                return _weeknote_conflict(conn, item.week)
        with site().engine.connect() as conn:
            body = _load_weeknote(conn, item.week)
        response = jsonify(body)
        response.status_code = 201
        response.headers["Location"] = absolute(url_for("api.weeknote", week=item.week))
        return response


class WeeknoteItem(Resource):
    def get(self, week: str) -> Any:
        _week_or_404(week)
        with site().engine.connect() as conn:
            note = _load_weeknote(conn, week)
        if note is None:
            abort(404, description=f"There is no weeknote for {week}.")
        return jsonify(note)

    def patch(self, week: str) -> Any:
        """Partial update; a new ``week`` moves the note (409 if that week already has one)."""
        _week_or_404(week)
        data = _json_object()
        _check_fields(data, WEEKNOTE_FIELDS, validate=lambda rest: weeknotes.validate({"week": week, **rest}))
        try:
            with site().engine.begin() as conn:
                row = weeknote_reads.stored(conn, week)
                if row is None:
                    abort(404, description=f"There is no weeknote for {week}.")
                stored = weeknotes.WeeknoteInput(week=row["week"], title=row["title"], body=row["body"],
                                                 status=row["status"], visibility=row["visibility"])
                item = weeknotes.validate(data, partial=stored)
                if item.week != week and weeknote_reads.stored(conn, item.week) is not None:
                    return _weeknote_conflict(conn, item.week)
                weeknotes.save(conn, item, row["id"], config=site().config, reveal=data.get("reveal") is True)
        except ValidationError as exc:
            return _validation_failed(exc)
        except IntegrityError:
            abort(409, description="Another request wrote a weeknote for that week at the same moment; try again.")
        with site().engine.connect() as conn:
            return jsonify(_load_weeknote(conn, item.week))

    def delete(self, week: str) -> Any:
        _week_or_404(week)
        with site().engine.begin() as conn:
            if not weeknotes.remove_week(conn, week, config=site().config):
                abort(404, description=f"There is no weeknote for {week}.")
        return Response(status=204, mimetype="application/json")


_route("/bookmarks", BookmarkList, "bookmarks")
_route("/bookmarks/<int:bookmark_id>", BookmarkItem, "bookmark")
_route("/weeknotes", WeeknoteList, "weeknotes")
_route("/weeknotes/<week>", WeeknoteItem, "weeknote")
