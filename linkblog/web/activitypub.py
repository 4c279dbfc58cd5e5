"""The read side of federation: discovery (WebFinger, host-meta, NodeInfo), the actor, its outbox and
collections, and bookmarks/weeknotes as ActivityStreams objects.

What is served as JSON: public and unlisted items only. Followers-only items answer 404 for now,
because serving them needs a verified HTTP signature from a follower and signature checks live in the
inbox code; private items and drafts answer 404 always; an id listed in ``tombstones`` answers 410.
The outbox is built on the fly from public bookmarks and weeknotes as they are now (never from stored
payloads), so an item made private later disappears from it at once.
"""
from __future__ import annotations

import json
from functools import lru_cache
from xml.sax.saxutils import quoteattr
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, redirect, request
from sqlalchemy import Connection, func, select

from .. import queries, site
from ..models import Bookmark, Follower, Following, Owner, RemoteActor, Tombstone, Weeknote
from ..weeknotes import InvalidWeek, parse_week
from ..federation import activities as AS

bp = Blueprint("federation", __name__)

AP_TYPE = "application/activity+json"
AP_TYPES = frozenset({"application/activity+json", "application/ld+json"})
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
JRD_TYPE = "application/jrd+json"
NODEINFO_PROFILE = "http://nodeinfo.diaspora.software/ns/schema/{}"
NODEINFO_VERSIONS = ("2.1", "2.0")
SUBSCRIBE_REL = "http://ostatus.org/schema/1.0/subscribe"
PROFILE_REL = "http://webfinger.net/rel/profile-page"
OUTBOX_PAGE_SIZE = 20
COLLECTION_PAGE_SIZE = 50
SERVED = ("public", "unlisted")
NEGOTIATED = frozenset({"public.home", "public.bookmark", "public.weeknote", "federation.actor"})

B, W, O = Bookmark.__table__, Weeknote.__table__, Owner.__table__
RA, TS = RemoteActor.__table__, Tombstone.__table__


# --- Content negotiation ------------------------------------------------------------------------------


def wants_activity_json() -> bool:
    """True when the client prefers AS2 JSON over HTML. Browsers never mention JSON, so the common
    case costs one substring test; ties go to JSON (an AP client listing HTML too can read both)."""
    header = request.headers.get("Accept", "")
    if "json" not in header:
        return False
    ap_quality = html_quality = 0.0
    for value, quality in request.accept_mimetypes:
        base = value.split(";", 1)[0].strip().lower()
        if base in AP_TYPES:
            ap_quality = max(ap_quality, quality)
        elif base in HTML_TYPES:
            html_quality = max(html_quality, quality)
    return ap_quality > 0 and ap_quality >= html_quality


@bp.after_app_request
def vary_on_accept(response: Response) -> Response:
    """Pages that answer HTML or JSON by Accept must say so, or a cache would mix them up."""
    if request.endpoint in NEGOTIATED:
        response.vary.add("Accept")
    return response


def _json(doc: Any, content_type: str, status: int = 200) -> Response:
    return Response(json.dumps(doc, ensure_ascii=False), status=status, content_type=content_type)


def _ap(doc: Any, status: int = 200) -> Response:
    return _json(doc, AP_TYPE, status)


def _error(status: int, message: str) -> Response:
    return _json({"error": message}, "application/json", status)


def _urls() -> AS.Urls:
    return AS.urls(site().config)


def _owner(conn: Connection) -> Any:
    return conn.execute(select(O.c.username, O.c.display_name, O.c.summary, O.c.public_key_pem,
                               O.c.created_at, O.c.also_known_as, O.c.moved_to).where(O.c.id == 1)).first()


def _local_post_count(conn: Connection) -> int:
    """Public bookmarks plus published public weeknotes: what anyone may see listed."""
    bookmarks = conn.execute(select(func.count()).select_from(B).where(B.c.visibility == "public")).scalar_one()
    weeknotes = conn.execute(select(func.count()).select_from(W).where(
        W.c.status == "published", W.c.visibility == "public")).scalar_one()
    return bookmarks + weeknotes


# --- Discovery ----------------------------------------------------------------------------------------


def _host() -> str:
    return urlsplit(site().config.base_url).netloc


def _names_us(resource: str, username: str, u: AS.Urls) -> bool:
    """acct:user@host (or bare user@host) with our host incl. port, or one of our actor/profile URLs."""
    if resource in (u.actor, u.profile, u.base):
        return True
    text = resource[5:] if resource[:5].lower() == "acct:" else resource
    if text.count("@") != 1:  # "@user@host", "user@host@evil", "user"
        return False
    user, _, host = text.partition("@")
    return bool(user) and user.lower() == username.lower() and host.lower() == _host()


@bp.get("/.well-known/webfinger")
def webfinger() -> Response:
    resource = request.args.get("resource", "").strip()
    if not resource:
        return _error(400, "the resource parameter is required, e.g. ?resource=acct:user@host")
    with site().engine.connect() as conn:
        owner = _owner(conn)
    u = _urls()
    if owner is None or not _names_us(resource, owner.username, u):
        return _error(404, "no such account here")
    doc = {
        "subject": f"acct:{owner.username}@{_host()}",
        "aliases": [u.actor, u.profile],
        "links": [
            {"rel": "self", "type": AP_TYPE, "href": u.actor},
            {"rel": PROFILE_REL, "type": "text/html", "href": u.profile},
            {"rel": SUBSCRIBE_REL, "template": f"{u.base}/authorize_interaction?uri={{uri}}"},
        ],
    }
    return _json(doc, JRD_TYPE)


@bp.get("/.well-known/host-meta")
def host_meta() -> Response:
    """Older clients find WebFinger through this XRD document."""
    template = f"{_urls().base}/.well-known/webfinger?resource={{uri}}"
    body = ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0">\n'
            f'  <Link rel="lrdd" template={quoteattr(template)}/>\n'
            "</XRD>\n")
    return Response(body, content_type="application/xrd+xml; charset=utf-8")


@bp.get("/.well-known/nodeinfo")
def nodeinfo_links() -> Response:
    base = _urls().base
    links = [{"rel": NODEINFO_PROFILE.format(v), "href": f"{base}/nodeinfo/{v}"} for v in NODEINFO_VERSIONS]
    return _json({"links": links}, "application/json")


@lru_cache(maxsize=1)
def software_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("linkblog")
    except PackageNotFoundError:
        return "0.0.0"


@bp.get("/nodeinfo/<version>")
def nodeinfo(version: str) -> Response:
    if version not in NODEINFO_VERSIONS:
        return _error(404, "NodeInfo 2.0 and 2.1 are served")
    with site().engine.connect() as conn:
        posts = _local_post_count(conn)
    doc = {
        "version": version,
        "software": {"name": "linkblog", "version": software_version()},
        "protocols": ["activitypub"],
        "services": {"inbound": [], "outbound": []},
        "openRegistrations": False,
        "usage": {"users": {"total": 1, "activeMonth": 1, "activeHalfyear": 1}, "localPosts": posts},
        "metadata": {"nodeName": site().config.get("site", "title"),
                     "nodeDescription": site().config.get("site", "description")},
    }
    return _json(doc, f'application/json; profile="{NODEINFO_PROFILE.format(version)}#"')


# --- Actor, outbox, collections -----------------------------------------------------------------------


@bp.get("/actor")
def actor() -> Response:
    if not wants_activity_json():
        return redirect("/", 302)
    with site().engine.connect() as conn:
        owner = _owner(conn)
    if owner is None:
        return _error(404, "no actor yet (run linkblog init)")
    return _ap(AS.actor_document(owner, site().config))


def _via_handles(conn: Connection, bookmark_ids: list[int]) -> dict[int, dict[str, Any]]:
    """via_actor_uri, via_post_uri and the via author's handle for these bookmarks, in one query."""
    if not bookmark_ids:
        return {}
    rows = conn.execute(
        select(B.c.id, B.c.via_actor_uri, B.c.via_post_uri, RA.c.handle)
        .outerjoin(RA, RA.c.uri == B.c.via_actor_uri)
        .where(B.c.id.in_(bookmark_ids), B.c.via_actor_uri.is_not(None)))
    return {r.id: {"via_actor_uri": r.via_actor_uri, "via_post_uri": r.via_post_uri, "handle": r.handle or None}
            for r in rows}


def _bookmark_note(item: dict[str, Any], via: dict[str, Any] | None) -> dict[str, Any]:
    if via:
        item = {**item, "via_actor_uri": via["via_actor_uri"], "via_post_uri": via["via_post_uri"]}
    return AS.bookmark_note(item, site().config, via_handle=via["handle"] if via else None)


@bp.get("/actor/outbox")
def outbox() -> Response:
    """Without ?page: the count and first page. With ?page=true: 20 Creates, newest first, keyset-paged
    by ?before= (a queries.Cursor) so every page costs the same three queries."""
    refusal = _secure_mode_refusal()
    if refusal is not None:
        return refusal
    config, u = site().config, _urls()
    first = f"{u.outbox}?page=true"
    if "page" not in request.args:
        with site().engine.connect() as conn:
            total = _local_post_count(conn)
        return _ap(AS.outbox_collection(config, total, first))
    raw = request.args.get("before")
    cursor = queries.Cursor.decode(raw)
    if raw and cursor is None:
        return _error(400, "bad 'before' value")
    with site().engine.connect() as conn:
        page = queries.stream(conn, owner=False, size=OUTBOX_PAGE_SIZE, cursor=cursor)
        via = _via_handles(conn, [i["id"] for i in page.items if i["kind"] == "b"])
    items = []
    for item in page.items:
        obj = _bookmark_note(item, via.get(item["id"])) if item["kind"] == "b" else AS.weeknote_object(item, config)
        items.append(AS.create(obj, config, activity_id=AS.stable_activity_id(config, obj["id"])))
    page_id = f"{first}&before={raw}" if raw else first
    next_url = f"{first}&before={page.next}" if page.next else None
    return _ap(AS.outbox_page(page_id, items, part_of=u.outbox, next_url=next_url))


def _collection(table: Any, collection_id: str) -> Response:
    """Counts always; members (actor ids, newest first) only when publish_collections is on."""
    refusal = _secure_mode_refusal()
    if refusal is not None:
        return refusal
    publish = site().config.get("federation", "publish_collections")
    first = f"{collection_id}?page=true"
    accepted = table.c.state == "accepted"
    with site().engine.connect() as conn:
        if "page" not in request.args:
            total = conn.execute(select(func.count()).select_from(table).where(accepted)).scalar_one()
            return _ap(AS.collection(collection_id, total, first if publish else None))
        if not publish:
            return _error(404, "this account does not publish its collections")
        raw = request.args.get("before", "")
        if raw and not raw.isdigit():
            return _error(400, "bad 'before' value")
        query = select(table.c.id, RA.c.uri).join(RA, RA.c.id == table.c.actor_id).where(accepted)
        if raw:
            query = query.where(table.c.id < int(raw))
        rows = conn.execute(query.order_by(table.c.id.desc()).limit(COLLECTION_PAGE_SIZE + 1)).all()
    shown = rows[:COLLECTION_PAGE_SIZE]
    next_url = f"{first}&before={shown[-1].id}" if len(rows) > COLLECTION_PAGE_SIZE else None
    page_id = f"{first}&before={raw}" if raw else first
    return _ap(AS.collection_page(page_id, [r.uri for r in shown], part_of=collection_id, next_url=next_url))


@bp.get("/actor/followers")
def followers() -> Response:
    return _collection(Follower.__table__, _urls().followers)


@bp.get("/actor/following")
def following() -> Response:
    return _collection(Following.__table__, _urls().following)


# --- Objects (called from the public views when the client asks for JSON) -----------------------------


def _gone_or_missing(conn: Connection, object_id: str) -> Response:
    row = conn.execute(select(TS.c.former_type, TS.c.deleted_at).where(TS.c.uri == object_id)).first()
    if row is None:
        return _error(404, "not found")
    return _ap(AS.tombstone(object_id, row.former_type, row.deleted_at), status=410)


def _secure_mode_refusal() -> Response | None:
    """With ``[federation] secure_mode`` our objects answer only signed fetches (and the owner's browser).
    The actor document stays readable: peers need our key to verify the very signatures we send."""
    if not site().config.get("federation", "secure_mode"):
        return None
    from ..federation.signed_get import signer
    from .security import is_owner

    if is_owner() or signer():
        return None
    return _error(401, "this server only answers signed requests (secure mode)")


def _may_read(visibility: str) -> bool:
    """Public and unlisted for anyone; followers-only for a signed fetch by an accepted follower."""
    if visibility in SERVED:
        return True
    if visibility != "followers":
        return False
    from ..federation.signed_get import is_follower, signer

    return is_follower(signer())


def bookmark_document(bookmark_id: int) -> Response:
    """A bookmark as a Note: public/unlisted for anyone, followers-only for a follower's signed fetch,
    else 410 (deleted) or 404."""
    refusal = _secure_mode_refusal()
    if refusal is not None:
        return refusal
    with site().engine.connect() as conn:
        item = queries.bookmark(conn, bookmark_id)
        if item is not None and _may_read(item["visibility"]):
            via = _via_handles(conn, [bookmark_id]).get(bookmark_id)
            return _ap(_bookmark_note(item, via))
        return _gone_or_missing(conn, _urls().bookmark(bookmark_id))


def weeknote_document(week: str) -> Response:
    """A published weeknote as a Note or Article (followers-only ones for a follower's signed fetch),
    else 410 or 404."""
    refusal = _secure_mode_refusal()
    if refusal is not None:
        return refusal
    try:
        parse_week(week)
    except InvalidWeek:
        return _error(404, "not a week")
    with site().engine.connect() as conn:
        note = queries.weeknote(conn, week)
        if note is not None and note["status"] == "published" and _may_read(note["visibility"]):
            return _ap(AS.weeknote_object(note, site().config))
        return _gone_or_missing(conn, _urls().weeknote(week))
