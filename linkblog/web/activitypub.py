"""The ActivityPub read side over HTTP: the actor, its outbox and collections, and bookmarks/weeknotes as
ActivityStreams objects (called from the public views when the client asks for JSON). The documents come
from ``federation.documents``; this module decides from the request what was asked and answers.

What is served as JSON: public and unlisted items to anyone, followers-only items to a follower's signed
fetch; private items and drafts answer 404 always; an id listed in ``tombstones`` answers 410. With
``[federation] secure_mode`` everything but the actor needs a signed fetch (or the owner's browser).
"""
from __future__ import annotations

import json
from typing import Any, Callable

from flask import Blueprint, Response, g, redirect, request
from sqlalchemy import Connection

from .. import site
from ..federation import objects as AS
from ..federation import documents
from ..federation.negotiation import AP_TYPE, prefers_activity_json
from ..weeknotes import InvalidWeek, parse_week
from .security import is_owner

bp = Blueprint("federation", __name__)

NEGOTIATED = frozenset({"public.home", "public.bookmark", "public.weeknote", "federation.actor"})


# --- Content negotiation ------------------------------------------------------------------------------


def wants_activity_json() -> bool:
    """True when the client prefers AS2 JSON over HTML. Browsers never mention JSON, so the common
    case costs one substring test."""
    if "json" not in request.headers.get("Accept", ""):
        return False
    return prefers_activity_json(request.accept_mimetypes)


# What decides an answer besides the URL: who signed the fetch (a follower's server, secure mode), and the
# owner's session cookie (secure mode lets the owner's browser in).
SIGNATURE_HEADERS = ("Signature", "Signature-Input")


def depends_on(*headers: str) -> None:
    """This answer depends on who asks, through these request headers: ``cache_by_requester`` marks it."""
    g.ap_depends_on = g.get("ap_depends_on", frozenset()) | frozenset(headers)


@bp.after_app_request
def cache_by_requester(response: Response) -> Response:
    """Pages that answer HTML or JSON by Accept must say so (``Vary: Accept``), or a cache would mix them
    up. An answer that depends on who asks (a followers-only object, anything in secure mode) must never
    be kept by a shared cache, or it would be served to the next reader: ``Cache-Control: private`` and a
    ``Vary`` naming what decided it."""
    if request.endpoint in NEGOTIATED:
        response.vary.add("Accept")
    decided_by = g.get("ap_depends_on")
    if decided_by:
        response.vary.update(sorted(decided_by))
        response.headers["Cache-Control"] = "private, no-store" if is_owner() else "private"
    return response


def json_response(doc: Any, content_type: str, status: int = 200) -> Response:
    return Response(json.dumps(doc, ensure_ascii=False), status=status, content_type=content_type)


def ap_response(doc: Any, status: int = 200) -> Response:
    return json_response(doc, AP_TYPE, status)


def error_response(status: int, message: str) -> Response:
    return json_response({"error": message}, "application/json", status)


def _signer() -> str | None:
    # Imported here: checking signatures needs the HTTP client and crypto, which readers' pages never do.
    from .signatures import signer

    depends_on(*SIGNATURE_HEADERS)
    return signer()


def _secure_mode_refusal() -> Response | None:
    """With ``[federation] secure_mode`` our objects answer only signed fetches (and the owner's browser).
    The actor document stays readable: peers need our key to verify the very signatures we send."""
    if not site().config.get("federation", "secure_mode"):
        return None
    depends_on(*SIGNATURE_HEADERS, "Cookie")
    if is_owner() or _signer():
        return None
    return error_response(401, "this server only answers signed requests (secure mode)")


# --- Actor, outbox, collections -----------------------------------------------------------------------


@bp.get("/actor")
def actor() -> Response:
    if not wants_activity_json():
        return redirect("/", 302)
    with site().engine.connect() as conn:
        owner = documents.owner(conn)
    if owner is None:
        return error_response(404, "no actor yet (run linkblog init)")
    return ap_response(AS.actor_document(owner, site().settings()))


@bp.get("/actor/outbox")
def outbox() -> Response:
    """Without ?page: the count and first page. With ?page=true: a page of Creates, newest first."""
    refusal = _secure_mode_refusal()
    if refusal is not None:
        return refusal
    config = site().config
    with site().engine.connect() as conn:
        if "page" not in request.args:
            return ap_response(documents.outbox(conn, config))
        try:
            return ap_response(documents.outbox_page(conn, config, request.args.get("before")))
        except documents.BadCursor:
            return error_response(400, "bad 'before' value")


def _collection(name: str) -> Response:
    """Counts always; members (actor ids, newest first) only when publish_collections is on."""
    refusal = _secure_mode_refusal()
    if refusal is not None:
        return refusal
    config = site().config
    publish = config.get("federation", "publish_collections")
    with site().engine.connect() as conn:
        if "page" not in request.args:
            return ap_response(documents.collection(conn, config, name, publish=publish))
        if not publish:
            return error_response(404, "this account does not publish its collections")
        try:
            return ap_response(documents.collection_page(conn, config, name, request.args.get("before", "")))
        except documents.BadCursor:
            return error_response(400, "bad 'before' value")


@bp.get("/actor/followers")
def followers() -> Response:
    return _collection("followers")


@bp.get("/actor/following")
def following() -> Response:
    return _collection("following")


# --- Objects (called from the public views when the client asks for JSON) -----------------------------


def _gone_or_missing(conn: Connection, object_id: str) -> Response:
    doc = documents.tombstone(conn, object_id)
    return error_response(404, "not found") if doc is None else ap_response(doc, status=410)


def bookmark_document(bookmark_id: int) -> Response:
    """A bookmark as a Note: public/unlisted for anyone, followers-only for a follower's signed fetch,
    else 410 (deleted) or 404."""
    refusal = _secure_mode_refusal()
    if refusal is not None:
        return refusal
    return _object_or_gone(lambda conn, config: documents.bookmark(conn, config, bookmark_id, _signer),
                           lambda urls: urls.bookmark(bookmark_id))


def weeknote_document(week: str) -> Response:
    """A published weeknote as a Note or Article (followers-only ones for a follower's signed fetch),
    else 410 or 404."""
    refusal = _secure_mode_refusal()
    if refusal is not None:
        return refusal
    try:
        parse_week(week)
    except InvalidWeek:
        return error_response(404, "not a week")
    return _object_or_gone(lambda conn, config: documents.weeknote(conn, config, week, _signer),
                           lambda urls: urls.weeknote(week))


def _object_or_gone(load: Callable[[Connection, Any], dict[str, Any] | None],
                    object_id: Callable[[AS.Urls], str]) -> Response:
    """The object ``load`` finds, else 410 if its id is a tombstone, else 404."""
    config = site().config
    with site().engine.connect() as conn:
        doc = load(conn, config)
        if doc is not None:
            return ap_response(doc)
        return _gone_or_missing(conn, object_id(AS.urls(config)))
