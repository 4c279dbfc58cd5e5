"""Which format a bookmark file is in, sniffed from its first bytes; else a ParseError saying what is supported.

Pure: no database, no network.
"""
from __future__ import annotations

import csv

from .csv_formats import CSV_COLUMNS
from .entries import ParseError

SUPPORTED = ("Netscape bookmark HTML (browsers, Pinboard, Shaarli, linkding, Raindrop…), Pinboard JSON, "
             "Chrome's 'Bookmarks' JSON, Firefox JSON backups, and Pocket, Raindrop.io and Instapaper CSV")


def _csv_header(text: str) -> frozenset[str]:
    first = text.split("\n", 1)[0]
    try:
        return frozenset(name.strip().lower() for name in next(csv.reader([first]), []))
    except csv.Error:
        return frozenset()


def detect_format(first_bytes: bytes) -> str:
    """The name of a format (a key of registry.PARSERS) from a file's start; ParseError naming what is supported.

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
