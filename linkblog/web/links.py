"""Link health: the owner's ``/admin/links`` (broken and moved links, newest first, one-click and bulk
actions in one CSRF'd form that works without JavaScript), and the marks public pages put on dead links
(a "link gone" note with the saved copy or the Wayback Machine's copy), for bookmark lists and permalinks
and for the links inside weeknote bodies."""
from __future__ import annotations

import html
import re
from datetime import datetime
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request
from markupsafe import Markup
from sqlalchemy import Connection

from .. import site
from ..federation.publish import FEDERATED
from ..queries.fediverse import follower_count
from ..links import health
from ..links.copies import readers_may_see
from ..links.wayback import wayback_url
from ..queries import links as link_reads
from ..states import CopyState, LinkState
from .security import owner_required

bp = Blueprint("links", __name__)

STATE_WORDS = {LinkState.GONE: "This link is gone", LinkState.UNREACHABLE: "This link no longer answers",
               LinkState.CHANGED: "This page has changed since it was saved", LinkState.REDIRECTED: "Moved",
               LinkState.OK: "Answers"}
PAGE_SIZE = 50
_ANCHOR = re.compile(r'<a\s[^>]*?href="([^"]*)"[^>]*>.*?</a>', re.S | re.I)


def copy_path(bookmark_id: int) -> str:
    return f"/bookmarks/{bookmark_id}/copy"


def fallback(bookmark_id: int, url: str, saved_at: datetime | None, state: str, copy_open: bool) -> dict[str, Any]:
    """What a reader is offered instead of a dead link: the saved copy when there is one readers may read
    (``copy_open``), otherwise the Wayback Machine's copy nearest the day the bookmark was saved."""
    return {"state": state, "dead": state in link_reads.DEAD, "words": STATE_WORDS.get(state, state),
            "copy_url": copy_path(bookmark_id) if copy_open else None, "wayback": wayback_url(url, saved_at)}


def copy_open(visibility: str, copy_done: bool, copy_readers: bool | None) -> bool:
    """A finished copy that readers may read (the same rule ``/bookmarks/<id>/copy`` applies to them)."""
    return copy_done and readers_may_see(site().settings(), visibility, copy_readers)


def mark_items(conn: Connection, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add ``link`` (a ``fallback``) to the bookmarks among ``items`` whose link died: one query per page."""
    found = link_reads.marks(conn, (item["id"] for item in items if item.get("kind", "b") == "b"))
    for item in items:
        if item.get("kind", "b") == "b" and item["id"] in found:
            mark = found[item["id"]]
            item["link"] = fallback(item["id"], item["url"], item["created_at"], mark["state"],
                                    copy_open(item["visibility"], mark["copy_done"], mark["copy_readers"]))
    return items


def mark_item(item: dict[str, Any]) -> dict[str, Any]:
    """The permalink's bookmark (read with its link's state, ``queries.links.bookmark``) with its ``link``."""
    state, show_copy = item.pop("link_state", None), bool(item.pop("link_show_copy", False))
    opened = copy_open(item["visibility"], item.pop("link_copy_done", False), item.pop("link_copy_readers", None))
    item["link_checked"] = {"state": state, "at": item.pop("link_checked_at", None)} if state else None
    if state in link_reads.DEAD or (state is not None and show_copy and opened):
        item["link"] = fallback(item["id"], item["url"], item["created_at"], state, opened)
    return item


def weeknote_body(conn: Connection, body_html: str, *, owner: bool) -> Markup:
    """A weeknote's stored HTML with a fallback after each link to a bookmark known dead: its anchors are
    read from our own sanitised HTML (``markup``), at most ``MAX_LINKS_LOOKED_UP``, looked up in one query."""
    hrefs = [html.unescape(m.group(1)) for m in _ANCHOR.finditer(body_html)]
    dead = link_reads.dead_urls(conn, hrefs, owner=owner) if hrefs else {}
    if not dead:
        return Markup(body_html)

    def add(match: re.Match[str]) -> str:
        row = dead.get(html.unescape(match.group(1)))
        if row is None:
            return match.group(0)
        mark = fallback(row["id"], html.unescape(match.group(1)), row["saved_at"], row["state"],
                        copy_open(row["visibility"], row["copy_done"], row["copy_readers"]))
        target, label = (mark["copy_url"], "saved copy") if mark["copy_url"] else (mark["wayback"], "archived copy")
        note = "link gone" if mark["dead"] else "copy"
        return (f'{match.group(0)} <span class="link-gone">({note}: <a href="{html.escape(target)}" '
                f'rel="nofollow noopener">{label}</a>)</span>')

    return Markup(_ANCHOR.sub(add, body_html))


def _before() -> tuple[datetime, int] | None:
    raw = request.args.get("before", "")
    if not raw:
        return None
    at, _, ident = raw.partition("_")
    try:
        return datetime.strptime(at, "%Y%m%d%H%M%S%f"), int(ident)
    except ValueError:
        abort(400, description="The page link is broken (bad 'before' value); start again from the first page.")


@bp.route("/admin/links")
@owner_required
def health_page():
    wanted = request.args.get("state", "")
    if wanted and wanted not in link_reads.PROBLEMS:
        abort(400, description="Unknown state: choose gone, unreachable, changed or redirected.")
    with site().engine.connect() as conn:
        rows, more = link_reads.problems(conn, states=[wanted] if wanted else link_reads.PROBLEMS, size=PAGE_SIZE,
                                         before=_before())
        counts = link_reads.state_counts(conn)
    for row in rows:
        row["fallback"] = fallback(row["id"], row["url"], row["created_at"], row["state"],
                                   row["copy_state"] == CopyState.DONE)  # the owner may read every copy
    next_page = f"{more[0]:%Y%m%d%H%M%S%f}_{more[1]}" if more else None
    return render_template("admin_links.html", rows=rows, counts=counts, wanted=wanted, next_page=next_page,
                           states=link_reads.PROBLEMS, words=STATE_WORDS)


@bp.route("/admin/links", methods=["POST"])
@owner_required
def act():
    """One form: a row's own button (``do=action:id``) acts on that link, else ``action`` on the ticked ``id``s."""
    one = request.form.get("do", "")
    if one:
        action, _, raw = one.partition(":")
        raw_ids = [raw]
    else:
        action, raw_ids = request.form.get("action", ""), request.form.getlist("id")
    if not all(r.isascii() and r.isdigit() and len(r) < 19 for r in raw_ids):
        abort(400, description="The links to act on are not valid bookmark ids.")
    ids = [int(r) for r in dict.fromkeys(raw_ids)]
    if action == "delete" and ids and request.form.get("confirmed") != "yes":
        return _confirm_delete(ids)
    try:
        with site().engine.begin() as conn:
            message = health.apply(conn, action, ids, site().config)
    except health.NotApplicable as exc:
        abort(400, description=str(exc))
    flash(message)
    back = request.form.get("state", "")
    return redirect("/admin/links" + (f"?state={back}" if back in link_reads.PROBLEMS else ""), 303)


def _confirm_delete(ids: list[int]):  # noqa: ANN202
    """Deleting from /admin/links asks first, as every delete does: which bookmarks go, and who is told."""
    if len(ids) > health.MAX_BULK:
        abort(400, description=f"At most {health.MAX_BULK} links at once.")
    with site().engine.connect() as conn:
        rows = link_reads.titles(conn, ids)
        followers = follower_count(conn)
    if not rows:
        abort(404, description="None of these bookmarks exists any more.")
    told = any(row["visibility"] in FEDERATED for row in rows)
    what = (f"the bookmark “{rows[0]['title'] or rows[0]['url']}”" if len(rows) == 1
            else f"these {len(rows)} bookmarks")
    details = "; ".join(row["title"] or row["url"] for row in rows[:20]) + (" …" if len(rows) > 20 else "")
    fields = [("action", "delete"), ("confirmed", "yes")] + [("id", row["id"]) for row in rows]
    return render_template("confirm_delete.html", what=what, action="/admin/links", cancel="/admin/links",
                           told=told, followers=followers, details=details, kind="bookmark", fields=fields,
                           many=len(rows) > 1)
