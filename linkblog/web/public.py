"""What readers see: home, permalinks, tags, weeknotes."""
from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request

from .. import markup, site
from ..db import reading
from ..links import copies
from ..queries import bookmarks as bookmark_reads, fediverse as fediverse_reads, owner as owner_reads
from ..queries import links as link_reads, weeknotes as weeknote_reads
from ..queries.paging import Cursor
from ..queries.stream import stream
from ..states import Visibility, WeeknoteStatus
from ..tags import InvalidTag, clean_tag
from ..weeknotes import InvalidWeek, lists_link, neighbours, parse_week, week_label
from . import activitypub
from .links import mark_item, mark_items, weeknote_body
from .security import is_owner

bp = Blueprint("public", __name__)


TAGS_PER_PAGE = 200
MAX_TAG_PAGE = 1000


def _cursor() -> Cursor | None:
    raw = request.args.get("before")
    cursor = Cursor.decode(raw)
    if raw and cursor is None:
        abort(400, description="The page link is broken (bad 'before' value); start again from the first page.")
    return cursor


def _replies() -> dict:
    """The page of replies asked for (``?replies=``, the "More replies" link) and how many a page shows."""
    raw = request.args.get("replies")
    after = fediverse_reads.ReplyCursor.decode(raw)
    if raw and after is None:
        abort(400, description="The replies link is broken (bad 'replies' value); start again from the item's page.")
    return {"replies_after": after, "replies_size": site().config.get("site", "page_size")}


@bp.route("/")
def home():
    if activitypub.wants_activity_json():  # the profile URL of the actor, as Mastodon's /@user is
        return redirect("/actor", 303)
    owner = is_owner()
    size = site().config.get("site", "page_size")
    with reading(site().engine) as conn:
        page = stream(conn, owner=owner, size=size, cursor=_cursor())
        mark_items(conn, page.items)
        moved = owner_reads.moved(conn)
    return render_template("home.html", page=page, moved=moved)


@bp.route("/bookmarks/<int:bookmark_id>")
def bookmark(bookmark_id: int):
    if activitypub.wants_activity_json():
        return activitypub.bookmark_document(bookmark_id)
    owner = is_owner()
    with reading(site().engine) as conn:
        item = link_reads.bookmark(conn, bookmark_id)   # the bookmark and its link's state, one statement
        if item is None or not bookmark_reads.can_see(item["visibility"], owner):
            abort(404, description="There is no bookmark here.")
        mark_item(item)
        week = next((n["week"] for n in weeknote_reads.mentioning(conn, item["url"], owner=owner)
                     if lists_link(n["body"], item["url"])), None)
        responses = fediverse_reads.item_interactions(conn, "b", bookmark_id, owner=owner, **_replies())
        via = fediverse_reads.bookmark_via(conn, bookmark_id)
        saved = copies.read(conn, bookmark_id, with_body=False)
    copy_shown = saved is not None and (owner or (saved.state == "done" and copies.readers_may_see(
        site().settings(), item["visibility"], saved.readers)))
    return render_template("bookmark.html", item=item, week=week, week_label=week_label, responses=responses,
                           via=via, here=f"/bookmarks/{bookmark_id}", copy=saved if copy_shown else None)


@bp.route("/tags/")
def tags():
    """Every tag, most used first, TAGS_PER_PAGE a page (``?page=``): /feeds/ lists the top ones and links here."""
    raw = request.args.get("page", "1")
    if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= MAX_TAG_PAGE):
        abort(400, description=f"The page number must be a whole number from 1 to {MAX_TAG_PAGE}.")
    page = int(raw)
    with reading(site().engine) as conn:
        cloud = bookmark_reads.tag_cloud(conn, owner=is_owner(), limit=TAGS_PER_PAGE + 1,
                                         offset=(page - 1) * TAGS_PER_PAGE)
        moved = owner_reads.moved(conn)
    return render_template("tags.html", cloud=cloud[:TAGS_PER_PAGE], moved=moved, page=page,
                           more=len(cloud) > TAGS_PER_PAGE)


@bp.route("/tags/<tag>")
def tag(tag: str):
    try:
        name = clean_tag(tag)
    except InvalidTag as exc:
        abort(404, description=str(exc))
    owner = is_owner()
    size = site().config.get("site", "page_size")
    with reading(site().engine) as conn:
        page = bookmark_reads.tag_stream(conn, name, owner=owner, size=size, cursor=_cursor())
        mark_items(conn, page.items)
        total = bookmark_reads.tag_count(conn, name, owner=owner) if page.items else 0
        moved = owner_reads.moved(conn)
    if not page.items and request.args.get("before") is None:
        abort(404, description=f"Nothing is tagged {name} here.")
    return render_template("tag.html", tag=name, page=page, total=total, moved=moved)


@bp.route("/weeknotes/")
def weeknotes():
    before = request.args.get("before")
    if before:
        try:
            parse_week(before)
        except InvalidWeek as exc:
            abort(400, description=str(exc))
    with reading(site().engine) as conn:
        page = weeknote_reads.index(conn, owner=is_owner(), size=site().config.get("site", "page_size"),
                                    before=before)
        moved = owner_reads.moved(conn)
    return render_template("weeknotes.html", page=page, week_label=week_label, first_text=markup.first_text,
                           moved=moved)


@bp.route("/weeknotes/<week>")
def weeknote(week: str):
    if activitypub.wants_activity_json():
        return activitypub.weeknote_document(week)
    try:
        parse_week(week)
    except InvalidWeek as exc:
        abort(404, description=str(exc))
    owner = is_owner()
    with reading(site().engine) as conn:
        note = weeknote_reads.weeknote(conn, week)
        visible = note is not None and (owner or (note["status"] == WeeknoteStatus.PUBLISHED
                                                  and note["visibility"] in (Visibility.PUBLIC, Visibility.UNLISTED)))
        if not visible:
            abort(404, description=f"There is no weeknote for {week}.")
        previous, following = weeknote_reads.adjacent(conn, week, owner=owner)
        responses = fediverse_reads.item_interactions(conn, "w", note["id"], owner=owner, **_replies())
        body = weeknote_body(conn, note["body_html"], owner=owner)
    return render_template("weeknote.html", note=note, body=body, label=week_label(week), previous=previous,
                           following=following, calendar=neighbours(week), responses=responses,
                           here=f"/weeknotes/{week}")
