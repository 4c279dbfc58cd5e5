"""Bookmark import and export for the owner (the CLI's functions behind a form), and the public sitemap.

Import is all or nothing: a file that cannot be parsed imports nothing and answers 400 with the position.
The sitemap lists public items only (queries/sitemap.py: never unlisted, followers-only, private or drafts).
"""
from __future__ import annotations

import io
import tempfile
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from urllib.parse import quote
from xml.sax.saxutils import escape

from flask import Blueprint, Response, render_template, request, stream_with_context

from .. import site
from ..links import copies
from ..transfer.backup import write_backup
from ..transfer.exporter import export_bookmarks
from ..transfer.formats.detect import detect_format
from ..transfer.formats.entries import ParseError
from ..transfer.formats.registry import LABELS, parser_for
from ..transfer.formats.source import CHUNK
from ..transfer.importer import DUPLICATES, import_bookmarks, parse_announce_since
from ..queries.sitemap import sitemap as sitemap_entries
from . import absolute, iso, zone
from .security import owner_required

bp = Blueprint("transfer", __name__)

UPLOAD_MAX = 50 * 1024 * 1024
FORMATS = {"auto": "Detect from the file"} | LABELS
SHOWN_INVALID = 20
EXPORTS = {"html": ("netscape", "text/html; charset=utf-8"), "json": ("pinboard", "application/json")}


@bp.url_value_preprocessor
def _bigger_uploads(endpoint: str | None, values: dict | None) -> None:
    """Runs before the app's CSRF check reads the form, so the import form may carry up to 50 MiB."""
    if endpoint == "transfer.import_upload":
        request.max_content_length = UPLOAD_MAX


def _form(*, error: str | None = None, result=None, choices: dict | None = None,  # noqa: ANN001
          filename: str = "", status: int = 200):
    """The page; ``choices`` are the form's values to show again (format, duplicates, announce_since, private)."""
    chosen = {"format": "auto", "duplicates": "skip", "announce_since": "", "private": False,
              "folders_as_tags": True} | (choices or {})
    return render_template("admin_transfer.html", error=error, result=result, chosen=chosen, filename=filename,
                           formats=FORMATS, duplicate_modes=DUPLICATES, shown_invalid=SHOWN_INVALID,
                           upload_mib=UPLOAD_MAX // (1024 * 1024)), status


@bp.route("/admin/import")
@owner_required
def import_form():
    return _form()


def _choices() -> dict:
    fmt = request.form.get("format", "auto")
    duplicates = request.form.get("duplicates", "skip")
    return {"format": fmt if fmt in FORMATS else "auto",
            "duplicates": duplicates if duplicates in DUPLICATES else "skip",
            "announce_since": request.form.get("announce_since", "").strip()[:40],
            "private": request.form.get("private") == "1",
            # a box to untick would read as "off" whenever a client leaves it out: ask the opposite question
            "folders_as_tags": request.form.get("no_folder_tags") != "1"}


@bp.route("/admin/import", methods=["POST"])
@owner_required
def import_upload():
    choices = _choices()
    since = None
    if choices["announce_since"]:
        try:
            since = parse_announce_since(choices["announce_since"], site().settings().get("site", "timezone"))
        except ValueError as exc:
            return _form(error=f"Announce to followers: {exc} Nothing was imported.", choices=choices, status=400)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _form(error="Choose a bookmark file to import.", choices=choices, status=400)
    name = upload.filename
    stream = upload.stream
    try:
        head = stream.read(4096)
        stream.seek(0)
        kind = detect_format(head) if choices["format"] == "auto" else choices["format"]
        text = io.TextIOWrapper(stream, encoding="utf-8", errors="replace")
        parse = parser_for(kind, folders_as_tags=choices["folders_as_tags"])
        result = import_bookmarks(site().engine, parse(text), duplicates=choices["duplicates"],
                                  all_private=choices["private"], announce_since=since,
                                  config=site().config if since else None,
                                  copy_pages=copies.wanted(site().settings(), imported=True))
    except ParseError as exc:
        return _form(error=f"{name}: {exc} Nothing was imported.", choices=choices, filename=name, status=400)
    return _form(result=result, choices=choices, filename=name)


def _today() -> str:
    return datetime.now(timezone.utc).astimezone(zone(site().settings().get("site", "timezone"))).date().isoformat()


def _download(chunks: Iterable[str], mimetype: str, filename: str) -> Response:
    response = Response(chunks, mimetype=mimetype)
    response.headers["Content-Disposition"] = f"attachment; filename={filename}"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/admin/export.<any(html, json):ext>")
@owner_required
def export(ext: str):
    fmt, mimetype = EXPORTS[ext]
    return _download(stream_with_context(export_bookmarks(site().engine, fmt)), mimetype,
                     f"linkblog-{_today()}.{ext}")


@bp.route("/admin/backup.json")
@owner_required
def backup():
    """The full backup without the key pair (that needs the command line's explicit --include-keys).
    Written to a temporary file first, so the download is one consistent snapshot and memory stays flat."""
    spool = tempfile.TemporaryFile("w+", encoding="utf-8")
    try:
        write_backup(site().engine, site().config, spool, include_keys=False)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)

    def chunks() -> Iterator[str]:
        with spool:
            while chunk := spool.read(CHUNK):
                yield chunk

    return _download(chunks(), "application/json", f"linkblog-backup-{_today()}.json")


# Sitemap


def _url(path: str, moment: datetime | None) -> str:
    lastmod = f"<lastmod>{iso(moment)}</lastmod>" if moment is not None else ""
    return f"<url><loc>{escape(absolute(path))}</loc>{lastmod}</url>\n"


@bp.route("/sitemap.xml")
def sitemap():
    with site().engine.connect() as conn:
        entries = sitemap_entries(conn)
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n',
             '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n',
             _url("/", entries.latest())]
    parts += [_url(f"/bookmarks/{id_}", moment) for id_, moment in entries.bookmarks]
    parts += [_url(f"/weeknotes/{week}", moment) for week, moment in entries.weeknotes]
    parts += [_url(f"/tags/{quote(name)}", moment) for name, moment in entries.tags]
    parts.append("</urlset>\n")
    response = Response("".join(parts), mimetype="application/xml")
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.route("/robots.txt")
def robots():
    body = f"User-agent: *\nDisallow: /admin/\nSitemap: {absolute('/sitemap.xml')}\n"
    return Response(body, mimetype="text/plain")
