"""Feeds for the public: everything, links, weeknotes and one per tag, as Atom, RSS and JSON Feed.

Always built as an anonymous reader would see them (only public items, never drafts), even when the owner
is logged in, so a feed can be cached and shared. Three statements per feed at most: the items (one per kind,
or two for a tag) and the owner's name; entries never trigger queries of their own.
"""
from __future__ import annotations

import hashlib
from typing import Any

from flask import Blueprint, Response, abort, current_app, render_template, request
from sqlalchemy import Connection

from .. import feeds, settings as site_settings, site
from ..queries import bookmarks as bookmark_reads
from ..queries.stream import stream
from ..tags import InvalidTag, clean_tag
from ..weeknotes import week_label

bp = Blueprint("feeds", __name__)

FAMILIES: dict[str, tuple[tuple[str, ...], str, str]] = {
    # name: (kinds, title suffix, HTML page it mirrors)
    "all": (("b", "w"), "", "/"),
    "links": (("b",), "links", "/"),
    "weeknotes": (("w",), "weeknotes", "/weeknotes/"),
}
FORMAT_NAMES = {"atom": "Atom", "rss": "RSS", "json": "JSON Feed"}
MAX_AGE = 300
FEED_TAGS_SHOWN = 20  # /feeds/ lists the most used tags' feeds, then links to every tag (thousands stay off it)


@bp.route("/feeds/")
def index():
    with site().engine.connect() as conn:
        cloud = bookmark_reads.tag_cloud(conn, owner=False, limit=FEED_TAGS_SHOWN + 1)
    return render_template("feeds.html", families=FAMILIES, formats=FORMAT_NAMES, cloud=cloud[:FEED_TAGS_SHOWN],
                           more_tags=len(cloud) > FEED_TAGS_SHOWN)


@bp.route("/feeds/<any(all, links, weeknotes):family>.<any(atom, rss, json):fmt>")
def family_feed(family: str, fmt: str):
    kinds, suffix, home = FAMILIES[family]
    size = site().config.get("site", "feed_size")
    with site().engine.connect() as conn:
        page = stream(conn, owner=False, size=size, kinds=kinds)
        author = _author(conn)
    return _respond(fmt, _meta(f"/feeds/{family}.{fmt}", suffix, home, author), page.items)


@bp.route("/feeds/tags/<tag>.<any(atom, rss, json):fmt>")
def tag_feed(tag: str, fmt: str):
    try:
        name = clean_tag(tag)
    except InvalidTag as exc:
        abort(404, description=str(exc))
    size = site().config.get("site", "feed_size")
    with site().engine.connect() as conn:
        page = bookmark_reads.tag_stream(conn, name, owner=False, size=size)
        # Like the tag page: a tag with no public bookmarks does not exist for readers.
        if not page.items:
            abort(404, description=f"Nothing is tagged {name} here.")
        author = _author(conn)
    return _respond(fmt, _meta(f"/feeds/tags/{name}.{fmt}", f"#{name}", f"/tags/{name}", author), page.items)


def _author(conn: Connection) -> tuple[str, str]:
    """The name feeds credit (display name, else user name, else the site title) and the avatar, if any."""
    found = site_settings.profile(conn)
    if found is None:
        return site().settings().get("site", "title"), ""
    return found.name, site_settings.avatar_url(site().config.base_url, found.avatar_digest) \
        if found.avatar_digest else ""


def _meta(path: str, suffix: str, home: str, author: tuple[str, str]) -> feeds.FeedMeta:
    config = site().settings()
    base, title = config.base_url, config.get("site", "title")
    return feeds.FeedMeta(
        title=f"{title}: {suffix}" if suffix else title,
        self_url=base + path,
        home_url=base + home,
        language=config.get("site", "language"),
        author=author[0],
        author_url=base + "/",
        description=config.get("site", "description"),
        icon=author[1],
    )


def _entry(item: dict[str, Any], base: str) -> feeds.Entry:
    if item["kind"] == "b":
        permalink = f"{base}/bookmarks/{item['id']}"
        return {
            "id": permalink, "url": permalink, "external_url": item["url"], "title": item["title"] or item["url"],
            "content_html": feeds.bookmark_content(item["url"], item["title"], item["quote"], item["quote_link"],
                                                   item["annotation_html"]),
            "published": item["created_at"], "updated": item["updated_at"], "tags": item["tags"],
        }
    permalink = f"{base}/weeknotes/{item['week']}"
    return {
        "id": permalink, "url": permalink, "title": item["title"] or week_label(item["week"]),
        "content_html": item["body_html"], "published": item["sort_at"], "updated": item["updated_at"],
    }


def _respond(fmt: str, meta: feeds.FeedMeta, items: list[dict[str, Any]]) -> Response:
    """The document with a content hash as ETag, so readers polling every few minutes mostly get a 304."""
    base = site().config.base_url
    body, content_type = feeds.render(fmt, meta, [_entry(item, base) for item in items])
    etag = hashlib.sha256(body).hexdigest()[:32]
    if request.if_none_match.contains_weak(etag):
        response = Response(status=304)
    else:
        response = Response(body, content_type=content_type)
    response.set_etag(etag)
    # A browser with the owner's session may get a refreshed cookie on this response: never let a shared
    # cache keep that one.
    has_session = current_app.config["SESSION_COOKIE_NAME"] in request.cookies
    response.headers["Cache-Control"] = f"{'private' if has_session else 'public'}, max-age={MAX_AGE}"
    return response
