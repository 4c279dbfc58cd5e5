"""Discovery over HTTP: ``/.well-known/webfinger``, ``/.well-known/host-meta``, ``/.well-known/nodeinfo`` and
``/nodeinfo/<version>``. The documents come from ``federation.discovery``."""
from __future__ import annotations

from flask import Blueprint, Response, request

from .. import site
from ..federation import objects as AS
from ..federation import discovery, documents
from .activitypub import error_response, json_response

bp = Blueprint("discovery", __name__)


@bp.get("/.well-known/webfinger")
def webfinger() -> Response:
    resource = request.args.get("resource", "").strip()
    if not resource:
        return error_response(400, "the resource parameter is required, e.g. ?resource=acct:user@host")
    with site().engine.connect() as conn:
        owner = documents.owner(conn)
    u = AS.urls(site().config)
    if owner is None or not discovery.names_us(resource, owner.username, u):
        return error_response(404, "no such account here")
    return json_response(discovery.webfinger(owner.username, u), discovery.JRD_TYPE)


@bp.get("/.well-known/host-meta")
def host_meta() -> Response:
    return Response(discovery.host_meta(AS.urls(site().config)), content_type=discovery.XRD_TYPE)


@bp.get("/.well-known/nodeinfo")
def nodeinfo_links() -> Response:
    return json_response(discovery.nodeinfo_links(AS.urls(site().config)), "application/json")


@bp.get("/nodeinfo/<version>")
def nodeinfo(version: str) -> Response:
    if version not in discovery.NODEINFO_VERSIONS:
        return error_response(404, "NodeInfo 2.0 and 2.1 are served")
    with site().engine.connect() as conn:
        posts = documents.local_post_count(conn)
    config = site().settings()
    doc = discovery.nodeinfo(version, local_posts=posts, name=config.get("site", "title"),
                             description=config.get("site", "description"))
    return json_response(doc, discovery.nodeinfo_content_type(version))
