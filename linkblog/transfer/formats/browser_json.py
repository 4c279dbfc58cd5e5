"""Browser JSON: Chrome's (and Chromium's, Edge's, Brave's) profile 'Bookmarks' file and Firefox JSON backups.

Pure: no database, no network, stdlib only. Folders become tags the way the browsers' own HTML exports would
make them through parse_netscape, so the JSON and the HTML of one profile import alike.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any

from .entries import Entry, Invalid, ParseError
from .fields import EPOCH, make_entry, normalise_tags
from .source import load_json

WEBKIT_EPOCH = datetime(1601, 1, 1)  # Chrome counts microseconds from here (Windows FILETIME's epoch)


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
    return make_entry(position, node.get("url"), node.get("name"), tags=normalise_tags(folders),
                  created=_microseconds(node.get("date_added"), WEBKIT_EPOCH),
                  updated=_microseconds(node.get("date_modified"), WEBKIT_EPOCH))


def parse_chrome_json(source: Any, *, folders_as_tags: bool = True) -> Iterator[Entry]:
    """Chrome's (and Chromium's, Edge's, Brave's) profile 'Bookmarks' file.

    The bookmarks bar is a folder tag and 'Other bookmarks'/'Mobile bookmarks' are not, as in Chrome's HTML export
    (which writes the bar as a folder and the other two roots' contents at the top level).
    """
    data = load_json(source)
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
    return make_entry(position, node.get("uri"), node.get("title"), description=_firefox_description(node),
                  tags=normalise_tags((tags.split(",") if isinstance(tags, str) else []) + folders),
                  created=_microseconds(node.get("dateAdded"), EPOCH),
                  updated=_microseconds(node.get("lastModified"), EPOCH))


def parse_firefox_json(source: Any, *, folders_as_tags: bool = True) -> Iterator[Entry]:
    """A Firefox JSON backup (bookmarks-*.json, Library › Backup): 'tags' are tags, folders too, place: queries are
    Invalid. The tags root is skipped: its folders repeat bookmarks whose 'tags' field already says the same."""
    data = load_json(source)
    if data is None:
        return
    if not isinstance(data, dict) or data.get("type") != FIREFOX_FOLDER or not isinstance(data.get("children"), list):
        raise ParseError(None, "This is not a Firefox JSON backup: it does not start with a folder "
                               f"({FIREFOX_FOLDER}).")
    top = [c for c in data["children"] if not (isinstance(c, dict) and c.get("root") == "tagsFolder")]
    yield from _tree_entries(top, _firefox_folder, folders_as_tags, _firefox)
