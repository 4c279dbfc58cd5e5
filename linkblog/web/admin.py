"""The owner's management pages: dashboard, weeknotes (list, start, edit, delete), tags, API tokens.

Views stay thin: the rules live in linkblog/weeknotes.py, linkblog/bookmarks.py and linkblog/tokens.py, the
reads in linkblog/queries/; here we only turn form fields into calls and errors into a re-shown form (nothing
the owner typed is lost).
"""
from __future__ import annotations

from typing import Any, Callable

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import Connection

from .. import bookmarks, markup, site, tokens, weeknotes
from ..bookmarks import NotFound, ValidationError
from ..db import utcnow
from ..federation.publish import FEDERATED
from ..links import copies
from ..models import Owner
from ..queries import admin as admin_reads, bookmarks as bookmark_reads
from ..queries import weeknotes as weeknote_reads
from ..queries.fediverse import follower_count
from ..queries.owner import owner_row
from ..queries.paging import Cursor
from ..states import WeeknoteStatus
from ..tags import InvalidTag, clean_tag
from .navigation import owner_nav
from .security import owner_required

bp = Blueprint("admin", __name__)
bp.add_app_template_global(owner_nav, "owner_nav")  # base.html shows the owner's navigation with it
NOTE_FIELDS = ("title", "body", "status", "visibility")


def _tz() -> str:
    return site().settings().get("site", "timezone")


def _heading() -> str:
    return site().config.get("weeknotes", "links_heading")


# Dashboard


def _bookmark_list(read: Callable[..., Any], template: str):  # noqa: ANN202
    """One page of one of the owner's bookmark lists, from the ``before`` cursor of the page before."""
    before = request.args.get("before")
    cursor = Cursor.decode(before) if before else None
    if before and (cursor is None or cursor.kind != "b"):
        abort(400, description="The page link is broken (bad 'before' value); start again from the first page.")
    with site().engine.connect() as conn:
        page = read(conn, size=site().config.get("site", "page_size"), cursor=cursor)
    return render_template(template, page=page)


@bp.route("/admin/toread")
@owner_required
def to_read():
    return _bookmark_list(bookmark_reads.to_read, "admin_toread.html")


@bp.route("/admin/archived")
@owner_required
def archived():
    """The owner's archive (linkding's archived list): bookmarks filed away from the home page, newest first."""
    return _bookmark_list(bookmark_reads.archived, "admin_archived.html")


@bp.route("/admin/")
@owner_required
def dashboard():
    """The owner's home: quick save, this week's note, what needs attention, the latest responses, counts."""
    from ..federation.reading import text_excerpt

    tz = _tz()
    week = weeknotes.current_week(tz)
    with site().engine.connect() as conn:
        home = admin_reads.home(conn, week=week, bounds=weeknotes.week_bounds_utc(week, tz), now=utcnow())
        import_copies = copies.import_progress(conn)
    for row in home.recent:
        row["excerpt"] = text_excerpt(row["content_html"], 140) if row["kind"] == "reply" else ""
    links = weeknotes.link_count(home.note["body"]) if home.note else 0
    return render_template("admin_dashboard.html", home=home, counts=home.counts, attention=home.attention,
                           workers=home.workers, import_copies=import_copies,
                           import_interval=site().config.get("copies", "import_interval"),
                           week=week, week_label=weeknotes.week_label(week), note=home.note, note_links=links)


# Weeknotes


def _weeknote_list(*, week_value: str = "", error: str | None = None, status: int = 200):
    with site().engine.connect() as conn:
        notes = weeknote_reads.every_note(conn)
    return render_template("admin_weeknotes.html", notes=notes, current=weeknotes.current_week(_tz()),
                           week_value=week_value, error=error, week_label=weeknotes.week_label), status


@bp.route("/admin/weeknotes")
@owner_required
def weeknote_list():
    return _weeknote_list()


@bp.route("/admin/weeknotes", methods=["POST"])
@owner_required
def weeknote_start():
    """Draft a note (this week's, or the week typed in) and open its editor; an existing note just opens."""
    if request.form.get("current") == "1":
        week = weeknotes.current_week(_tz())
    else:
        typed = request.form.get("week", "")
        week = typed.strip().upper()
        try:
            weeknotes.parse_week(week)
        except weeknotes.InvalidWeek as exc:
            message = str(exc) if week else "Enter a week like 2026-W47."
            return _weeknote_list(week_value=typed, error=message, status=400)
    with site().engine.begin() as conn:
        existed = weeknote_reads.stored(conn, week) is not None
        weeknotes.create_draft(conn, week, _tz(), _heading())
    flash(f"The note for {week} already existed; here it is." if existed
          else f"Started a draft for {week} with the week's links.")
    return redirect(url_for("admin.weeknote_edit", week=week))


def _existing_week(week: str) -> None:
    try:
        weeknotes.parse_week(week)
    except weeknotes.InvalidWeek as exc:
        abort(404, description=str(exc))


def _stored_note(conn: Connection, week: str) -> dict[str, Any]:
    """The stored weeknote of ``week`` (a valid ISO week), or a 404 that says how to start one."""
    _existing_week(week)
    note = weeknote_reads.stored(conn, week)
    if note is None:
        abort(404, description=f"There is no weeknote for {week} yet; start one from /admin/weeknotes.")
    return note


def _editor(week: str, values: dict[str, Any], *, errors: dict[str, str] | None = None, status: int = 200,
            note: dict[str, Any] | None = None, hidden: list[weeknotes.Hidden] | None = None,
            preview: str | None = None, notice: str | None = None):
    return render_template("admin_weeknote_form.html", week=week, label=weeknotes.week_label(week), values=values,
                           errors=errors or {}, note=note, hidden=hidden or [], words=weeknotes.REACH_WORDS,
                           preview=preview, notice=notice), status


def _unsaved(week: str, values: dict[str, Any], note: dict[str, Any], action: str):
    """Preview and "refresh links" show the editor again with what was typed, saving nothing."""
    body = values["body"].replace("\r\n", "\n")
    if action == "refresh":
        with site().engine.connect() as conn:
            items = weeknotes.new_links(conn, note, body, _tz())
        values = {**values, "body": weeknotes.with_items(body, items, _heading())}
        count = len(items)
        notice = (f"Added {count} link{'s' if count != 1 else ''} saved since this draft began. Not saved yet: "
                  "check the body and Save." if count else "No new links since this draft began.")
        return _editor(week, values, note=note, notice=notice)
    return _editor(week, values, note=note, preview=markup.render_markdown(body),
                   notice="This is a preview; nothing was saved yet.")


@bp.route("/admin/weeknotes/<week>", methods=["GET", "POST"])
@owner_required
def weeknote_edit(week: str):
    with site().engine.connect() as conn:
        note = _stored_note(conn, week)
    if request.method == "GET":
        return _editor(week, {k: note[k] for k in NOTE_FIELDS}, note=note)
    values = {key: request.form.get(key, "") for key in NOTE_FIELDS}
    action = request.form.get("action", "")
    if action in ("preview", "refresh"):
        return _unsaved(week, values, note, action)
    try:
        item = weeknotes.validate({**values, "week": week})
        with site().engine.begin() as conn:
            weeknotes.save(conn, item, note["id"], config=site().config, reveal=request.form.get("reveal") == "1")
    except weeknotes.WouldReveal as exc:  # the editor again, with the list and a box to tick to confirm
        return _editor(week, values, errors=exc.errors, status=409, note=note, hidden=exc.hidden)
    except ValidationError as exc:
        return _editor(week, values, errors=exc.errors, status=400, note=note)
    except NotFound:
        abort(404, description=f"The weeknote for {week} was deleted meanwhile.")
    flash("Published." if item.status == WeeknoteStatus.PUBLISHED else "Saved as a draft (only you can see it).")
    return redirect(url_for("public.weeknote", week=week))


@bp.route("/admin/weeknotes/<week>/delete", methods=["GET"])
@owner_required
def weeknote_confirm_delete(week: str):
    """The confirmation page (no JavaScript needed): what goes, and whether followers are told, before the POST."""
    with site().engine.connect() as conn:
        note = _stored_note(conn, week)
        followers = follower_count(conn)
    told = note["status"] == WeeknoteStatus.PUBLISHED and note["visibility"] in FEDERATED
    return render_template("confirm_delete.html", what=f"the weeknote for {weeknotes.week_label(week)}",
                           action=url_for("admin.weeknote_delete", week=week),
                           cancel=url_for("admin.weeknote_edit", week=week), told=told, followers=followers,
                           details=note["title"] or week, kind="weeknote",
                           draft=note["status"] != WeeknoteStatus.PUBLISHED)


@bp.route("/admin/weeknotes/<week>/delete", methods=["POST"])
@owner_required
def weeknote_delete(week: str):
    _existing_week(week)
    with site().engine.begin() as conn:
        if not weeknotes.remove_week(conn, week, config=site().config):
            abort(404, description=f"There is no weeknote for {week}.")
    flash(f"Deleted the weeknote for {week}.")
    return redirect(url_for("admin.weeknote_list"))


# Tags


def _tags_page(*, values: dict[str, str] | None = None, errors: dict[str, str] | None = None, status: int = 200):
    with site().engine.connect() as conn:
        rows = bookmark_reads.tag_usage(conn)
    values = values or {"old": request.args.get("old", ""), "new": ""}
    return render_template("admin_tags.html", tags=rows, values=values, errors=errors or {}), status


@bp.route("/admin/tags")
@owner_required
def tag_list():
    return _tags_page()


@bp.route("/admin/tags/rename", methods=["POST"])
@owner_required
def tag_rename():
    """Rename a tag; a name that already exists means merge (bookmarks.rename_tag does both)."""
    values = {"old": request.form.get("old", ""), "new": request.form.get("new", "")}
    try:
        with site().engine.begin() as conn:
            try:
                target = clean_tag(values["new"])
                merge = bookmark_reads.tag_exists(conn, target)
            except InvalidTag:
                merge = False  # rename_tag reports it
            touched = bookmarks.rename_tag(conn, values["old"], values["new"])
    except ValidationError as exc:
        return _tags_page(values=values, errors=exc.errors, status=400)
    except NotFound:
        return _tags_page(values=values, status=400,
                          errors={"old": f"There is no tag called {values['old'].strip()!r}."})
    old, new = clean_tag(values["old"]), clean_tag(values["new"])
    if old == new:
        flash("The new name is the same as the old one; nothing changed.")
    else:
        verb = "Merged" if merge else "Renamed"
        joiner = "into" if merge else "to"
        flash(f"{verb} #{old} {joiner} #{new} ({touched} bookmark{'' if touched == 1 else 's'}).")
    return redirect(url_for("admin.tag_list"))


# API tokens


def _tokens_page(*, name: str = "", error: str | None = None, secret: str | None = None,
                 created: str | None = None, pinboard: bool = False, status: int = 200):
    with site().engine.connect() as conn:
        rows = tokens.list_tokens(conn)
        username = owner_row(conn, Owner.username)
    return render_template("admin_tokens.html", tokens=rows, name=name, error=error, secret=secret,
                           created=created, pinboard=pinboard,
                           username=username.username if username else ""), status


@bp.route("/admin/tokens")
@owner_required
def token_list():
    return _tokens_page()


@bp.route("/admin/tokens", methods=["POST"])
@owner_required
def token_create():
    """Create a token and show its secret in this response only: it is stored hashed and never shown again."""
    name = request.form.get("name", "").strip()
    pinboard = request.form.get("pinboard") == "1"
    try:
        with site().engine.begin() as conn:
            secret = tokens.create_token(conn, name, pinboard=pinboard)
    except tokens.TokenError as exc:
        message = str(exc)
        return _tokens_page(name=request.form.get("name", ""), error=message[:1].upper() + message[1:] + ".",
                            pinboard=pinboard, status=400)
    return _tokens_page(secret=secret, created=name, pinboard=pinboard)


@bp.route("/admin/tokens/revoke", methods=["POST"])
@owner_required
def token_revoke():
    name = request.form.get("name", "")
    try:
        with site().engine.begin() as conn:
            tokens.revoke_token(conn, name)
    except tokens.TokenError:
        return _tokens_page(error=f"There is no active token called {name!r}.", status=400)
    flash(f"Revoked the token {name!r}; scripts using it now get 401.")
    return redirect(url_for("admin.token_list"))
