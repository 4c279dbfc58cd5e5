"""The owner's bookmark form (also the bookmarklet's window), edit, delete, "add to this week's note"."""
from __future__ import annotations

from typing import Any, Callable

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import Connection

from .. import bookmarks, markup, site, weeknotes
from ..bookmarks import DuplicateBookmark, NotFound, ValidationError
from ..federation.publish import FEDERATED
from ..links import copies
from ..queries import bookmarks as bookmark_reads
from ..queries.fediverse import follower_count, known_via
from ..urls import InvalidURL, normalise_url
from .security import owner_required

bp = Blueprint("owner", __name__)
FIELDS = ("url", "title", "annotation", "quote", "tags", "visibility", "toread")
VIA_FIELDS = ("via_actor", "via_post")  # hidden: set by the network page's Save links


def _form_data() -> dict[str, Any]:
    return {key: request.form.get(key, "") for key in FIELDS}


def _popup() -> bool:
    return request.values.get("popup") == "1"


def _render_form(values: dict[str, Any], *, bookmark_id: int | None = None, errors: dict[str, str] | None = None,
                 notice: str | None = None, status: int = 200, existing: dict[str, Any] | None = None,
                 offered_quote: str = ""):
    with site().engine.connect() as conn:
        known_tags = bookmark_reads.tag_names(conn)
        via = known_via(conn, values.get("via_actor"), values.get("via_post")) if bookmark_id is None else None
        saved = copies.read(conn, bookmark_id, with_body=False) if bookmark_id is not None else None
    readers = values.get("copy_readers", _readers_choice(saved.readers) if saved else "")
    return render_template("bookmark_form.html", values=values, bookmark_id=bookmark_id, errors=errors or {},
                           notice=notice, known_tags=known_tags, popup=_popup(), via=via,
                           existing=existing, offered_quote=offered_quote, quote_choice=_quote_choice(),
                           copy=saved, copy_readers=readers,
                           readers_default=bool(site().settings().get("copies", "readers_may_see"))), status


READERS_CHOICES = {"": None, "yes": True, "no": False}  # the edit form's "readers may read the saved copy"


def _readers_choice(value: bool | None) -> str:
    return next(k for k, v in READERS_CHOICES.items() if v is value)


def _with_offered_description(conn: Connection, bookmark_id: int, values: dict[str, Any]) -> str:
    """The annotation, or (when the owner left it empty and ticked the offer) the saved page's description:
    offered, never put over anything typed."""
    if values["annotation"].strip() or request.form.get("use_description") != "1":
        return values["annotation"]
    saved = copies.read(conn, bookmark_id, with_body=False)
    return saved.description if saved is not None else values["annotation"]


QUOTE_CHOICES = ("add", "replace", "keep")


def _quote_choice() -> str:
    choice = request.form.get("quote_choice", "add")
    return choice if choice in QUOTE_CHOICES else "add"


def _with_offered_quote(values: dict[str, Any]) -> str:
    """The quote after the owner's choice about a newly selected one: added after the saved quote (the default,
    so nothing is lost), put in its place, or left out."""
    offered = request.form.get("offered_quote", "").replace("\r\n", "\n").strip()
    quote = values["quote"].replace("\r\n", "\n").strip()
    if not offered or offered in quote:
        return values["quote"]
    choice = _quote_choice()
    if choice == "replace":
        return offered
    if choice == "add":
        return f"{quote}\n\n{offered}" if quote else offered
    return values["quote"]


def _values_of(item: bookmarks.BookmarkInput) -> dict[str, Any]:
    return {"url": item.url, "title": item.title, "annotation": item.annotation, "quote": item.quote,
            "tags": " ".join(item.tags), "visibility": item.visibility, "toread": "1" if item.toread else ""}


def _existing(bookmark_id: int) -> dict[str, Any]:
    """The bookmark that already has the address, for the error's links to it."""
    with site().engine.connect() as conn:
        row = bookmark_reads.bookmark(conn, bookmark_id)
    title = (row["title"] or row["url"]) if row is not None else f"bookmark {bookmark_id}"
    return {"id": bookmark_id, "title": title}


def _after_save(bookmark_id: int, message: str):
    if _popup():
        return render_template("saved.html", bookmark_id=bookmark_id, message=message, popup=True)
    flash(message)
    return redirect(url_for("public.bookmark", bookmark_id=bookmark_id))


@bp.route("/save", methods=["GET"])
@owner_required
def save_form():
    """New bookmark form, prefilled from the query (the bookmarklet); an already saved URL opens its bookmark."""
    values = {key: request.args.get(key, "") for key in FIELDS + VIA_FIELDS}
    values["visibility"] = values["visibility"] or site().settings().get("site", "default_visibility")
    try:
        url = normalise_url(values["url"]) if values["url"] else ""
    except InvalidURL:
        url = ""
    if url:
        with site().engine.connect() as conn:
            existing = bookmark_reads.id_by_url(conn, url)
            saved = bookmark_reads.bookmark(conn, existing) if existing is not None else None
            if saved is not None:
                stored = _values_of(bookmarks.input_of(saved))
                selected = values["quote"].replace("\r\n", "\n").strip()
                offered = ""
                if selected and not stored["quote"]:
                    stored["quote"] = selected
                elif selected and selected != stored["quote"]:
                    offered = selected  # a new selection on a page saved with another quote: offered, not dropped
                saved_on = saved["created_at"]
                return _render_form(stored, bookmark_id=saved["id"], offered_quote=offered,
                                    notice=f"You saved this page on {saved_on:%-d %b %Y}; you are editing that bookmark.")
    return _render_form(values)


@bp.route("/save", methods=["POST"])
@owner_required
def save():
    values = {**_form_data(), **{key: request.form.get(key, "") for key in VIA_FIELDS}}
    try:
        item = bookmarks.validate(values, site().settings().get("site", "default_visibility"))
        with site().engine.begin() as conn:
            via = known_via(conn, values["via_actor"], values["via_post"])
            bookmark_id = bookmarks.create(conn, item, config=site().config,
                                           via=(via.actor_uri, via.post_uri) if via else None,
                                           copy_page=copies.wanted(site().settings(), imported=False))
    except ValidationError as exc:
        return _render_form(values, errors=exc.errors, status=400)
    except DuplicateBookmark as exc:
        return _render_form(values, errors={"url": "This address is already saved."}, status=409,
                            existing=_existing(exc.bookmark_id))
    return _after_save(bookmark_id, "Saved.")


@bp.route("/bookmarks/<int:bookmark_id>/edit", methods=["GET", "POST"])
@owner_required
def edit(bookmark_id: int):
    if request.method == "GET":
        with site().engine.connect() as conn:
            try:
                item = bookmarks.load(conn, bookmark_id)
            except NotFound:
                abort(404, description="There is no bookmark here.")
        return _render_form(_values_of(item), bookmark_id=bookmark_id)
    values = _form_data()
    values["quote"] = _with_offered_quote(values)
    readers = request.form.get("copy_readers", "")
    try:
        with site().engine.begin() as conn:
            values["annotation"] = _with_offered_description(conn, bookmark_id, values)
            item = bookmarks.validate(values)
            changed = bookmarks.edit(conn, bookmark_id, item, config=site().config)
            if readers in READERS_CHOICES:
                saved = copies.read(conn, bookmark_id, with_body=False)
                if saved is not None and saved.readers is not READERS_CHOICES[readers]:
                    changed |= copies.set_readers(conn, bookmark_id, READERS_CHOICES[readers])
    except ValidationError as exc:
        return _render_form(values, bookmark_id=bookmark_id, errors=exc.errors, status=400)
    except DuplicateBookmark as exc:
        return _render_form(values, bookmark_id=bookmark_id, status=409, existing=_existing(exc.bookmark_id),
                            errors={"url": "Another bookmark already has this address."})
    except NotFound:
        abort(404, description="There is no bookmark here.")
    return _after_save(bookmark_id, "Saved." if changed else "Nothing changed.")


@bp.route("/bookmarks/<int:bookmark_id>/delete", methods=["GET"])
@owner_required
def confirm_delete(bookmark_id: int):
    """The confirmation page (no JavaScript needed): what goes, and who is told, before the POST does it."""
    with site().engine.connect() as conn:
        item = bookmark_reads.bookmark(conn, bookmark_id)
        if item is None:
            abort(404, description="There is no bookmark here.")
        followers = follower_count(conn)
    return render_template("confirm_delete.html", what=f"the bookmark “{item['title'] or item['url']}”",
                           action=url_for("owner.delete", bookmark_id=bookmark_id),
                           cancel=url_for("public.bookmark", bookmark_id=bookmark_id),
                           told=item["visibility"] in FEDERATED, followers=followers,
                           details=item["url"], kind="bookmark")


@bp.route("/bookmarks/<int:bookmark_id>/delete", methods=["POST"])
@owner_required
def delete(bookmark_id: int):
    return _change_bookmark(lambda conn: bookmarks.remove(conn, bookmark_id, config=site().config),
                            "Bookmark deleted.", "public.home")


@bp.route("/bookmarks/<int:bookmark_id>/read", methods=["POST"])
@owner_required
def mark_read(bookmark_id: int):
    """"Mark read" on the to-read list: the flag goes, the bookmark stays; back to the list."""
    return _change_bookmark(lambda conn: bookmarks.mark_read(conn, bookmark_id), "Marked read.", "admin.to_read")


@bp.route("/bookmarks/<int:bookmark_id>/archive", methods=["POST"])
@owner_required
def archive(bookmark_id: int):
    """File the bookmark away: off the owner's home and reading list, onto /admin/archived (readers still see it)."""
    return _change_bookmark(lambda conn: bookmarks.set_archived(conn, bookmark_id, True), "Archived.",
                            "admin.archived")


@bp.route("/bookmarks/<int:bookmark_id>/unarchive", methods=["POST"])
@owner_required
def unarchive(bookmark_id: int):
    return _change_bookmark(lambda conn: bookmarks.set_archived(conn, bookmark_id, False), "Back from the archive.",
                            "public.home")


def _change_bookmark(change: Callable[[Connection], object], done: str, back: str) -> Any:
    """Run ``change`` in one transaction, say ``done`` and go to ``back``; a bookmark deleted meanwhile is a 404."""
    try:
        with site().engine.begin() as conn:
            change(conn)
    except NotFound:
        abort(404, description="There is no bookmark here.")
    flash(done)
    return redirect(url_for(back))


@bp.route("/bookmarks/<int:bookmark_id>/to-weeknote", methods=["POST"])
@owner_required
def add_to_weeknote(bookmark_id: int):
    """Add this bookmark's line to the links list of the current week's note (drafted if missing), once. A bookmark
    less visible than the note is only added once the owner confirmed the warning page (``reveal=1``)."""
    config = site().settings()
    tz, heading = config.get("site", "timezone"), config.get("weeknotes", "links_heading")
    week = weeknotes.current_week(tz)
    try:
        with site().engine.begin() as conn:
            item = bookmark_reads.bookmark(conn, bookmark_id)
            if item is None:
                abort(404, description="There is no bookmark here.")
            _, added = weeknotes.add_bookmark(conn, item, week, tz, heading,
                                              reveal=request.form.get("reveal") == "1", config=config)
    except weeknotes.WouldReveal as exc:
        return render_template("weeknote_reveal.html", item=item, week=week, hidden=exc.hidden,
                               note_visibility=exc.visibility, words=weeknotes.REACH_WORDS,
                               paragraph=markup.render_markdown(weeknotes.bookmark_paragraph(item))), 409
    except ValidationError as exc:
        abort(400, description=" ".join(exc.errors.values()))
    flash(f"Added to the weeknote for {week}." if added else f"The weeknote for {week} lists it already.")
    return redirect(url_for("public.weeknote", week=week))
