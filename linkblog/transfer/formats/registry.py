"""PARSERS, the one list of every format we import, with their labels and the parser for each.

Pure: every parser here reads text only, never the database or the network.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

from .browser_json import parse_chrome_json, parse_firefox_json
from .csv_formats import parse_instapaper_csv, parse_pocket_csv, parse_raindrop_csv
from .entries import Entry
from .netscape import parse_netscape
from .pinboard import parse_pinboard

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
