"""Bookmark import/export, the pure half: parse and emit Netscape HTML and Pinboard JSON, detect a file's format.

No database, no Flask, no network. Parsers yield ImportedBookmark for good entries and Invalid for entries that
are skipped (counted by the caller); a file that is not a bookmark file at all raises ParseError. The other
formats (Pocket, Raindrop.io and Instapaper CSV, Chrome and Firefox JSON) are parsed in importformats.py.
"""
from __future__ import annotations

import csv
import html
import io
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from typing import Any

from .dates import rfc3339
from .jsonstream import JsonReader, JsonStreamError

CHUNK = 64 * 1024
EPOCH = datetime(1970, 1, 1)
ALLOWED_SCHEMES = ("http://", "https://")
SUPPORTED = ("Netscape bookmark HTML (browsers, Pinboard, Shaarli, linkding, Raindrop…), Pinboard JSON, "
             "Chrome's 'Bookmarks' JSON, Firefox JSON backups, and Pocket, Raindrop.io and Instapaper CSV")
# The columns that make a CSV file one of ours (lower case): detection and the parsers' header check share them.
CSV_COLUMNS: dict[str, frozenset[str]] = {
    "pocket-csv": frozenset({"title", "url", "time_added", "tags", "status"}),
    "raindrop-csv": frozenset({"id", "title", "note", "excerpt", "url", "folder", "tags", "created"}),
    "instapaper-csv": frozenset({"url", "title", "selection", "folder"}),
}


@dataclass(frozen=True)
class ImportedBookmark:
    url: str
    title: str
    description: str = ""
    tags: list[str] = field(default_factory=list)
    created: datetime | None = None
    updated: datetime | None = None
    private: bool = False
    toread: bool = False


@dataclass(frozen=True)
class Invalid:
    """An entry that was skipped: where it was ("line 3, column 4" or "item 2") and why."""
    position: str
    reason: str


class ParseError(ValueError):
    """The whole file is unusable. position is (line, column) when known, (line, None) when only the line is."""

    def __init__(self, position: tuple[int, int | None] | None, reason: str):
        self.position = position
        self.reason = reason
        where = ""
        if position:
            where = f"line {position[0]}, column {position[1]}: " if position[1] else f"line {position[0]}: "
        super().__init__(where + reason)


# ---------------------------------------------------------------- helpers

_TAG_BAD = re.compile(r"[^\w.+-]+")


def normalise_tag(raw: str) -> str:
    """A folder or foreign tag name as a valid tag name ('' when nothing usable is left)."""
    name = raw.strip().lstrip("#").lower()
    name = re.sub(r"\s+", "-", name)
    name = _TAG_BAD.sub("-", name)
    name = re.sub(r"-{2,}", "-", name)
    name = name.strip("-")
    while name and not (name[0].isalnum() or name[0] == "_"):
        name = name[1:]
    return name[:64]


def _tags(values: Iterable[str]) -> list[str]:
    out: list[str] = []
    for value in values:
        name = normalise_tag(value)
        if name and name not in out:
            out.append(name)
    return out


def _split_tags(value: str | None) -> list[str]:
    return [part for part in re.split(r"[\s,]+", value or "") if part]


def epoch_to_datetime(value: str | None) -> datetime | None:
    """ADD_DATE in seconds, milliseconds or microseconds (guessed by magnitude) to naive UTC; junk → None."""
    if value is None:
        return None
    value = value.strip()
    if not re.fullmatch(r"\d+(\.\d+)?", value):
        return None
    number = float(value)
    if number <= 0:
        return None
    if number >= 1e14:
        number /= 1_000_000
    elif number >= 1e11:
        number /= 1000
    try:
        return EPOCH + timedelta(seconds=int(number))
    except OverflowError:
        return None


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def _url_problem(url: str) -> str | None:
    if not url:
        return "The bookmark has no URL."
    if not url.lower().startswith(ALLOWED_SCHEMES):
        scheme = url.split(":", 1)[0][:20] if ":" in url else ""
        return f"Only http and https links can be imported (this one is {scheme + ':' if scheme else 'not a URL'})."
    return None


def _chunks(source: Any) -> Iterator[str]:
    """str, bytes, a text/binary stream or an iterable of str chunks → str chunks."""
    if isinstance(source, bytes):
        source = source.decode("utf-8-sig", errors="replace")
    if isinstance(source, str):
        for start in range(0, len(source), CHUNK):
            yield source[start:start + CHUNK]
        return
    if hasattr(source, "read"):
        while True:
            chunk = source.read(CHUNK)
            if not chunk:
                return
            yield chunk.decode("utf-8", errors="replace") if isinstance(chunk, bytes) else chunk
    for chunk in source:
        yield chunk.decode("utf-8", errors="replace") if isinstance(chunk, bytes) else chunk


def _load_json(source: Any) -> Any:
    """The whole file as JSON (the stdlib cannot stream it); None for an empty file, ParseError with a position."""
    text = "".join(_chunks(source)).lstrip("\ufeff")
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParseError((exc.lineno, exc.colno), f"This is not valid JSON ({exc.msg}).") from None
    except RecursionError:
        raise ParseError(None, "The JSON is nested too deeply to be a bookmark file.") from None


# ---------------------------------------------------------------- Netscape

class _NetscapeParser(HTMLParser):
    def __init__(self, folders_as_tags: bool):
        super().__init__(convert_charrefs=True)
        self.folders_as_tags = folders_as_tags
        self.out: list[ImportedBookmark | Invalid] = []
        self.seen_bookmark_markup = False
        self.folders: list[str | None] = []
        self.pending_folder: str | None = None
        self.folder_text: list[str] | None = None
        self.current: dict[str, Any] | None = None  # the bookmark being read
        self.mode: str | None = None  # "title" | "desc" | None

    # -- finishing entries
    def _finish(self) -> None:
        item, self.current, self.mode = self.current, None, None
        if item is None:
            return
        problem = _url_problem(item["url"])
        if problem:
            self.out.append(Invalid(item["position"], problem))
            return
        title = " ".join("".join(item["title"]).split()) or item["url"]
        folder_tags = [f for f in self.folders if f] if self.folders_as_tags else []
        self.out.append(ImportedBookmark(
            url=item["url"], title=title, description="".join(item["desc"]).strip(),
            tags=_tags(item["tags"] + folder_tags), created=item["created"], updated=item["updated"],
            private=item["private"], toread=item["toread"]))

    def _end_folder_title(self) -> None:
        if self.folder_text is not None:
            name = normalise_tag(" ".join("".join(self.folder_text).split()))
            self.pending_folder = name or None
            self.folder_text = None

    # -- HTMLParser callbacks
    def handle_decl(self, decl: str) -> None:
        if "netscape-bookmark-file" in decl.lower():
            self.seen_bookmark_markup = True

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("dt", "dl", "h3", "hr", "h1"):
            self._finish()
        elif tag == "dd" and self.current is not None:
            self.mode = "desc"
        if tag == "h3":
            self.folder_text = []
            self.pending_folder = None
        elif tag == "dl":
            self._end_folder_title()
            self.folders.append(self.pending_folder)
            self.pending_folder = None
        elif tag == "a":
            a = {k.lower(): (v or "") for k, v in attrs}
            if "href" not in a:
                return
            self._finish()
            self.seen_bookmark_markup = True
            line, col = self.getpos()
            self.current = {
                "position": f"line {line}, column {col + 1}", "url": a["href"].strip(), "title": [], "desc": [],
                "tags": _split_tags(a.get("tags")),
                "created": epoch_to_datetime(a.get("add_date") or a.get("time_added")),
                "updated": epoch_to_datetime(a.get("last_modified")),
                "private": _flag(a.get("private")), "toread": _flag(a.get("toread")),
            }
            self.mode = "title"

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self.mode == "title":
            self.mode = None
        elif tag == "h3":
            self._end_folder_title()
        elif tag == "dd" and self.mode == "desc":
            self._finish()
        elif tag == "dl":
            self._finish()
            self._end_folder_title()
            if self.folders:
                self.folders.pop()

    def handle_data(self, data: str) -> None:
        if self.folder_text is not None:
            self.folder_text.append(data)
        elif self.current is not None and self.mode == "title":
            self.current["title"].append(data)
        elif self.current is not None and self.mode == "desc":
            self.current["desc"].append(data)

    def close(self) -> None:
        super().close()
        self._finish()


def parse_netscape(stream: io.TextIOBase | str | bytes | Iterable[str], *,
                   folders_as_tags: bool = True) -> Iterator[ImportedBookmark | Invalid]:
    """Stream a Netscape bookmark file: yields entries as soon as each is complete."""
    parser = _NetscapeParser(folders_as_tags)
    started = False
    for chunk in _chunks(stream):
        if not started:
            chunk = chunk.lstrip("\ufeff \t\r\n")
            if not chunk:
                continue
            started = True
            if chunk[0] != "<":
                what = "JSON" if chunk[0] in "[{" else "text"
                raise ParseError((1, 1), f"This is a {what} file, not a Netscape bookmark file.")
        parser.feed(chunk)
        if parser.out:
            yield from parser.out
            parser.out.clear()
    if not started:
        return
    parser.close()
    if not parser.seen_bookmark_markup:
        raise ParseError(None, "No bookmarks found: the file has no <A HREF> links and no NETSCAPE doctype.")
    yield from parser.out
    parser.out.clear()


# ---------------------------------------------------------------- Pinboard

def _iso(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


MAX_ITEM = 8 * 1024 * 1024  # no bookmark is this big: stop looking for the end of a broken one
_ARRAY_PROBLEMS = {"truncated": "The file ends before the JSON array is closed (is it cut off?).",
                   "expected": "Expected ',' or ']' after an item of the JSON array.",
                   "trailing": "There is more after the end of the JSON array.",
                   "invalid": "This is not valid JSON (an item is far too long)."}


def _json_array(source: Any, what: str) -> Iterator[Any]:
    """The items of a top-level JSON array, decoded one at a time so memory stays flat as the file grows."""
    reader = JsonReader(_chunks(source), value_max=MAX_ITEM)
    first = reader.peek()
    if not first:
        return
    if first != "[":
        raise ParseError(reader.position(), f"{what} is a JSON array of bookmarks.")
    try:
        for _ in reader.items():
            yield reader.value()
        reader.end()
    except JsonStreamError as exc:
        reason = (f"This is not valid JSON ({exc.decoder_message})." if exc.decoder_message
                  else _ARRAY_PROBLEMS[exc.kind])
        raise ParseError((exc.line, exc.column), reason) from None


def parse_pinboard(stream_or_text: io.TextIOBase | str | bytes | Iterable[str]) -> Iterator[ImportedBookmark | Invalid]:
    """Pinboard's JSON export (posts/all?format=json), read item by item."""
    data = _json_array(stream_or_text, "A Pinboard export")
    for n, item in enumerate(data, 1):
        if not isinstance(item, dict):
            yield Invalid(f"item {n}", "The entry is not a JSON object.")
            continue
        url = str(item.get("href") or "").strip()
        problem = _url_problem(url)
        if problem:
            yield Invalid(f"item {n}", problem)
            continue
        tags = item.get("tags") or ""
        yield ImportedBookmark(
            url=url, title=" ".join(str(item.get("description") or "").split()) or url,
            description=str(item.get("extended") or "").strip(),
            tags=_tags(tags if isinstance(tags, list) else _split_tags(str(tags))),
            created=_iso(item.get("time")), updated=None,
            private=str(item.get("shared", "yes")).lower() == "no", toread=_flag(str(item.get("toread", ""))))


# ---------------------------------------------------------------- detection

def _csv_header(text: str) -> frozenset[str]:
    first = text.split("\n", 1)[0]
    try:
        return frozenset(name.strip().lower() for name in next(csv.reader([first]), []))
    except csv.Error:
        return frozenset()


def detect_format(first_bytes: bytes) -> str:
    """The name of a format (a key of importformats.PARSERS) from a file's start; ParseError naming what is supported.

    Sniffing only: the parser still checks the whole file and refuses it with a position if it does not fit.
    """
    text = first_bytes.decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
    lower = text.lower()
    if not text or text.startswith("<"):
        return "netscape"
    if text.startswith("{"):
        if '"roots"' in lower:
            return "chrome-json"
        if "x-moz-place" in lower or '"placesroot"' in lower:
            return "firefox-json"
        raise ParseError(None, f"This JSON file is not a bookmark format we know. Supported: {SUPPORTED}.")
    if text.startswith("["):
        if '"href"' in lower:
            return "pinboard"
        kind = "A Delicious JSON export" if '"owner"' in lower or '"others"' in lower else "This JSON file"
        raise ParseError(None, f"{kind} is not supported yet. Supported: {SUPPORTED}.")
    columns = _csv_header(lower)
    for name, needed in CSV_COLUMNS.items():
        if needed <= columns:
            return name
    if len(columns) > 1:
        raise ParseError(None, f"A CSV file with these columns is not supported: {', '.join(sorted(columns))[:200]}. "
                               f"Supported: {SUPPORTED}.")
    raise ParseError(None, f"Unrecognised file. Supported: {SUPPORTED}.")


# ---------------------------------------------------------------- emitting

def _seconds(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return str(int((moment - EPOCH).total_seconds()))


def _is_private(bookmark: dict) -> bool:
    # Anything not public (private, unlisted) is marked private so another service will not list it.
    return (bookmark.get("visibility") or "public") != "public"


def emit_netscape(bookmarks: Iterable[dict]) -> Iterator[str]:
    esc = html.escape
    yield ("<!DOCTYPE NETSCAPE-Bookmark-file-1>\n"
           '<META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset=UTF-8">\n'
           "<TITLE>Bookmarks</TITLE>\n<H1>Bookmarks</H1>\n<DL><p>\n")
    for b in bookmarks:
        attrs = [f'HREF="{esc(b["url"])}"']
        for name, key in (("ADD_DATE", "created_at"), ("LAST_MODIFIED", "updated_at")):
            seconds = _seconds(b.get(key))
            if seconds is not None:
                attrs.append(f'{name}="{seconds}"')
        attrs.append(f'PRIVATE="{1 if _is_private(b) else 0}"')
        if b.get("toread"):
            attrs.append('TOREAD="1"')
        attrs.append(f'TAGS="{esc(",".join(b.get("tags") or []))}"')
        line = f'<DT><A {" ".join(attrs)}>{esc(b.get("title") or b["url"])}</A>\n'
        if b.get("annotation"):
            line += f'<DD>{esc(b["annotation"])}\n'
        yield line
    yield "</DL><p>\n"


def _iso_z(moment: datetime | None) -> str:
    return "" if moment is None else rfc3339(moment)


def emit_pinboard(bookmarks: Iterable[dict]) -> Iterator[str]:
    """A JSON array, one bookmark per chunk."""
    first = True
    yield "["
    for b in bookmarks:
        item = {
            "href": b["url"], "description": b.get("title") or b["url"], "extended": b.get("annotation") or "",
            "time": _iso_z(b.get("created_at")), "shared": "no" if _is_private(b) else "yes",
            "toread": "yes" if b.get("toread") else "no", "tags": " ".join(b.get("tags") or []),
        }
        yield ("\n" if first else ",\n") + json.dumps(item, ensure_ascii=False)
        first = False
    yield "\n]\n" if not first else "]\n"


def to_export_dict(bookmark: ImportedBookmark) -> dict:
    """An ImportedBookmark in the shape the emitters take (for round trips and tests)."""
    return {"url": bookmark.url, "title": bookmark.title, "annotation": bookmark.description,
            "tags": list(bookmark.tags), "visibility": "private" if bookmark.private else "public",
            "created_at": bookmark.created, "updated_at": bookmark.updated, "toread": bookmark.toread}
