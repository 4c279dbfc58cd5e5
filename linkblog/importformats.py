"""Bookmark import, the pure half for the other formats: Pocket, Raindrop.io and Instapaper CSV, Chrome's
'Bookmarks' JSON and Firefox JSON backups; and PARSERS, the one list of every format we import.

Like importexport.py: no database, no Flask, no network, stdlib only. Parsers yield ImportedBookmark or Invalid
and raise ParseError for a file that is not the format asked for. Folders become tags the way the browsers' own
HTML exports would make them through parse_netscape, so the JSON and the HTML of one profile import alike.
"""
from __future__ import annotations

import csv
import functools
import json
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any

from .importexport import (CSV_COLUMNS, EPOCH, ImportedBookmark, Invalid, ParseError, _chunks, _iso, _load_json,
                           _tags, _url_problem, epoch_to_datetime, parse_netscape, parse_pinboard)

Entry = ImportedBookmark | Invalid
WEBKIT_EPOCH = datetime(1601, 1, 1)  # Chrome counts microseconds from here (Windows FILETIME's epoch)
CSV_LABELS = {"pocket-csv": "a Pocket CSV export", "raindrop-csv": "a Raindrop.io CSV export",
              "instapaper-csv": "an Instapaper CSV export"}


# ---------------------------------------------------------------- shared

def _entry(position: str, url: Any, title: Any, **fields: Any) -> Entry:
    """A bookmark, or Invalid when the URL cannot be imported; the title's whitespace collapsed, the URL if empty."""
    url = str(url or "").strip()
    problem = _url_problem(url)
    if problem:
        return Invalid(position, problem)
    return ImportedBookmark(url=url, title=" ".join(str(title or "").split()) or url, **fields)


def _microseconds(value: Any, epoch: datetime) -> datetime | None:
    """Microseconds after ``epoch`` (a number or a digit string) as naive UTC, to the whole second as the browsers'
    HTML exports write it; 0 and junk → None."""
    try:
        micro = int(value)
    except (TypeError, ValueError):
        return None
    if micro <= 0:
        return None
    try:
        return epoch + timedelta(seconds=micro // 1_000_000)
    except OverflowError:
        return None


# ---------------------------------------------------------------- CSV

def _lines(source: Any) -> Iterator[str]:
    """Lines with their endings, read a chunk at a time, so csv can stream quoted fields that span lines."""
    rest = ""
    for chunk in _chunks(source):
        rest += chunk
        *lines, rest = rest.split("\n")
        for line in lines:
            yield line + "\n"
    if rest:
        yield rest


def _csv_rows(source: Any, fmt: str) -> Iterator[tuple[str, dict[str, str] | None]]:
    """(position, row by lower-case column name) per data row, None for a row with the wrong number of fields.

    ParseError for a file whose header lacks ``fmt``'s columns, or that is not valid CSV (strict quoting, so a
    file cut inside a quoted field is refused rather than read as one huge title).
    """
    lines = _lines(source)
    first = next(lines, None)
    if first is None:
        return
    reader = csv.reader(_prepend(first.lstrip("\ufeff"), lines), strict=True)
    try:
        names = [name.strip().lower() for name in next(reader, [])]
        missing = CSV_COLUMNS[fmt] - set(names)
        if missing:
            raise ParseError((1, None), f"This is not {CSV_LABELS[fmt]}: the first line has no "
                                        f"{', '.join(sorted(missing))} column{'s' if len(missing) > 1 else ''}.")
        end = reader.line_num
        for fields in reader:
            start, end = end + 1, reader.line_num
            if not fields:
                continue
            yield f"line {start}", dict(zip(names, fields)) if len(fields) == len(names) else None
    except csv.Error as exc:
        raise ParseError((reader.line_num, None), f"This is not valid CSV ({exc}).") from None


def _prepend(first: str, rest: Iterator[str]) -> Iterator[str]:
    yield first
    yield from rest


def _csv_entries(source: Any, fmt: str,
                 make: Callable[[str, dict[str, str]], Entry]) -> Iterator[Entry]:
    for position, row in _csv_rows(source, fmt):
        if row is None:
            yield Invalid(position, "The row does not have the same number of fields as the first line.")
        else:
            yield make(position, row)


# Pocket and Instapaper are private reading lists: nothing in them was ever published, so they come in private.


def _pocket(position: str, row: dict[str, str]) -> Entry:
    return _entry(position, row["url"], row["title"], tags=_tags(row["tags"].split("|")), private=True,
                  created=epoch_to_datetime(row["time_added"]), toread=row["status"].strip().lower() == "unread")


def parse_pocket_csv(source: Any) -> Iterator[Entry]:
    """Pocket's CSV export: title,url,time_added,tags,status; tags joined by '|', status 'unread' is to-read."""
    return _csv_entries(source, "pocket-csv", _pocket)


def _raindrop(position: str, row: dict[str, str], folders_as_tags: bool = True) -> Entry:
    # The note is the owner's own words; the excerpt (the page's summary) stands in when there is none.
    description = row["note"].strip() or row["excerpt"].strip()
    folders = row["folder"].split(" / ") if folders_as_tags else []
    return _entry(position, row["url"], row["title"], description=description,
                  tags=_tags(row["tags"].split(",") + folders), created=_iso(row["created"]))


def parse_raindrop_csv(source: Any, *, folders_as_tags: bool = True) -> Iterator[Entry]:
    """Raindrop.io's CSV export (id,title,note,excerpt,url,folder,tags,created,…): each collection on the folder's
    path ("Parent / Child", a name itself may hold a bare '/') becomes a tag after the tags, as nested folders do."""
    return _csv_entries(source, "raindrop-csv", lambda position, row: _raindrop(position, row, folders_as_tags))


INSTAPAPER_PLACES = ("unread", "archive", "starred")  # Instapaper's own lists, not folders the owner made


def _instapaper_tags(value: str) -> list[str]:
    """The Tags column of newer exports holds a JSON array ('["go", "security"]'); anything else is split on commas."""
    try:
        tags = json.loads(value)
    except (ValueError, RecursionError):
        tags = None
    if isinstance(tags, list):
        return [str(tag) for tag in tags]
    return value.split(",")


def _instapaper(position: str, row: dict[str, str], folders_as_tags: bool = True) -> Entry:
    folder = row["folder"].strip()
    folders = [] if folder.lower() in INSTAPAPER_PLACES or not folders_as_tags else [folder]
    return _entry(position, row["url"], row["title"], description=row["selection"].strip(), private=True,
                  tags=_tags(_instapaper_tags(row.get("tags", "")) + folders),
                  created=epoch_to_datetime(row.get("timestamp")), toread=folder.lower() == "unread")


def parse_instapaper_csv(source: Any, *, folders_as_tags: bool = True) -> Iterator[Entry]:
    """Instapaper's CSV export (URL,Title,Selection,Folder, since late 2025 also Timestamp,Tags): 'Unread' is
    to-read, other folders but Archive and Starred are tags."""
    return _csv_entries(source, "instapaper-csv",
                        lambda position, row: _instapaper(position, row, folders_as_tags))


# ---------------------------------------------------------------- browser JSON trees

def _leaves(nodes: Iterable[Any], folder_name: Callable[[dict], str | None]) -> Iterator[tuple[tuple[str, ...], Any]]:
    """(folder names above it, node) for every node that is not a folder, depth first in file order.

    ``folder_name(node)`` is None for a leaf, else the folder's name ('' for one that gives no tag). A loop, not
    recursion, so a deeply nested file cannot exhaust the stack.
    """
    stack: list[tuple[tuple[str, ...], Iterator[Any]]] = [((), iter(nodes))]
    done = object()
    while stack:
        folders, children = stack[-1]
        node = next(children, done)
        if node is done:
            stack.pop()
            continue
        name = folder_name(node) if isinstance(node, dict) else None
        if name is None:
            yield folders, node
        elif isinstance(node.get("children"), list):
            stack.append((folders + (name,) if name else folders, iter(node["children"])))


def _tree_entries(nodes: Iterable[Any], folder_name: Callable[[dict], str | None], folders_as_tags: bool,
                  make: Callable[[str, dict, list[str]], Entry]) -> Iterator[Entry]:
    n = 0
    for folders, node in _leaves(nodes, folder_name):
        if isinstance(node, dict) and node.get("type") == "text/x-moz-place-separator":
            continue  # Firefox's separators are neither bookmarks nor mistakes
        n += 1
        position = f"item {n}" + (f" (in {' / '.join(folders)})" if folders else "")
        if not isinstance(node, dict):
            yield Invalid(position, "The entry is not a JSON object.")
        else:
            yield make(position, node, list(folders) if folders_as_tags else [])


def _chrome_folder(node: dict) -> str | None:
    return str(node.get("name") or "") if node.get("type") == "folder" else None


def _chrome(position: str, node: dict, folders: list[str]) -> Entry:
    return _entry(position, node.get("url"), node.get("name"), tags=_tags(folders),
                  created=_microseconds(node.get("date_added"), WEBKIT_EPOCH),
                  updated=_microseconds(node.get("date_modified"), WEBKIT_EPOCH))


def parse_chrome_json(source: Any, *, folders_as_tags: bool = True) -> Iterator[Entry]:
    """Chrome's (and Chromium's, Edge's, Brave's) profile 'Bookmarks' file.

    The bookmarks bar is a folder tag and 'Other bookmarks'/'Mobile bookmarks' are not, as in Chrome's HTML export
    (which writes the bar as a folder and the other two roots' contents at the top level).
    """
    data = _load_json(source)
    if data is None:
        return
    roots = data.get("roots") if isinstance(data, dict) else None
    if not isinstance(roots, dict):
        raise ParseError(None, "This is not a Chrome 'Bookmarks' file: it has no \"roots\" object.")
    ordered = ["bookmark_bar", "other", "synced"] + [k for k in roots if k not in ("bookmark_bar", "other", "synced")]
    top: list[Any] = []
    for key in ordered:
        root = roots.get(key)
        if not isinstance(root, dict) or not isinstance(root.get("children"), list):
            continue
        top.append({**root, "type": "folder", "name": root.get("name") or "Bookmarks bar"}
                   if key == "bookmark_bar" else {**root, "type": "folder", "name": ""})
    yield from _tree_entries(top, _chrome_folder, folders_as_tags, _chrome)


FIREFOX_FOLDER = "text/x-moz-place-container"
# Firefox's special roots other than the menu (whose contents sit at the top of its HTML export, so give no tag)
# are folders there; recent versions store them under an internal title that the HTML export writes out in full.
FIREFOX_ROOTS = {"toolbarFolder": ("toolbar", "Bookmarks Toolbar"),
                 "unfiledBookmarksFolder": ("unfiled", "Other Bookmarks"),
                 "mobileFolder": ("mobile", "Mobile Bookmarks")}


def _firefox_folder(node: dict) -> str | None:
    if node.get("type") != FIREFOX_FOLDER:
        return None
    title = str(node.get("title") or "")
    root = node.get("root")
    if root == "bookmarksMenuFolder":
        return ""
    if root in FIREFOX_ROOTS:
        internal, full = FIREFOX_ROOTS[root]
        return full if title in ("", internal) else title
    return title


def _firefox_description(node: dict) -> str:
    annos = node.get("annos")
    for anno in annos if isinstance(annos, list) else []:
        if isinstance(anno, dict) and anno.get("name") == "bookmarkProperties/description":
            return str(anno.get("value") or "").strip()
    return ""


def _firefox(position: str, node: dict, folders: list[str]) -> Entry:
    tags = node.get("tags")
    return _entry(position, node.get("uri"), node.get("title"), description=_firefox_description(node),
                  tags=_tags((tags.split(",") if isinstance(tags, str) else []) + folders),
                  created=_microseconds(node.get("dateAdded"), EPOCH),
                  updated=_microseconds(node.get("lastModified"), EPOCH))


def parse_firefox_json(source: Any, *, folders_as_tags: bool = True) -> Iterator[Entry]:
    """A Firefox JSON backup (bookmarks-*.json, Library › Backup): 'tags' are tags, folders too, place: queries are
    Invalid. The tags root is skipped: its folders repeat bookmarks whose 'tags' field already says the same."""
    data = _load_json(source)
    if data is None:
        return
    if not isinstance(data, dict) or data.get("type") != FIREFOX_FOLDER or not isinstance(data.get("children"), list):
        raise ParseError(None, "This is not a Firefox JSON backup: it does not start with a folder "
                               f"({FIREFOX_FOLDER}).")
    top = [c for c in data["children"] if not (isinstance(c, dict) and c.get("root") == "tagsFolder")]
    yield from _tree_entries(top, _firefox_folder, folders_as_tags, _firefox)


# ---------------------------------------------------------------- the registry

PARSERS: dict[str, Callable[[Any], Iterator[Entry]]] = {
    "netscape": parse_netscape, "pinboard": parse_pinboard, "pocket-csv": parse_pocket_csv,
    "chrome-json": parse_chrome_json, "firefox-json": parse_firefox_json, "raindrop-csv": parse_raindrop_csv,
    "instapaper-csv": parse_instapaper_csv,
}
LABELS: dict[str, str] = {
    "netscape": "Netscape HTML (browsers and most services)", "pinboard": "Pinboard JSON",
    "pocket-csv": "Pocket CSV", "chrome-json": "Chrome 'Bookmarks' JSON", "firefox-json": "Firefox JSON backup",
    "raindrop-csv": "Raindrop.io CSV", "instapaper-csv": "Instapaper CSV",
}
# Formats whose folders (or collections) become tags unless the owner says otherwise.
FOLDER_FORMATS = frozenset({"netscape", "chrome-json", "firefox-json", "raindrop-csv", "instapaper-csv"})


def parser_for(fmt: str, *, folders_as_tags: bool = True) -> Callable[[Any], Iterator[Entry]]:
    """The parser for ``fmt`` (a PARSERS name), told whether folder names become tags."""
    parse = PARSERS[fmt]
    if folders_as_tags or fmt not in FOLDER_FORMATS:
        return parse
    return functools.partial(parse, folders_as_tags=False)
