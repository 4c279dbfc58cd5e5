"""Pocket, Raindrop.io and Instapaper CSV exports: each a header line naming its columns, then a row a bookmark.

Pure: no database, no network, stdlib only. Rows are read a line at a time, so memory stays flat.
"""
from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from typing import Any

from .entries import Entry, Invalid, ParseError
from ...dates import parse_iso_datetime
from .fields import epoch_to_datetime, make_entry, normalise_tags
from .source import text_chunks

# The columns that make a CSV file one of ours (lower case): detection and the parsers' header check share them.
CSV_COLUMNS: dict[str, frozenset[str]] = {
    "pocket-csv": frozenset({"title", "url", "time_added", "tags", "status"}),
    "raindrop-csv": frozenset({"id", "title", "note", "excerpt", "url", "folder", "tags", "created"}),
    "instapaper-csv": frozenset({"url", "title", "selection", "folder"}),
}
CSV_LABELS = {"pocket-csv": "a Pocket CSV export", "raindrop-csv": "a Raindrop.io CSV export",
              "instapaper-csv": "an Instapaper CSV export"}


def _lines(source: Any) -> Iterator[str]:
    """Lines with their endings, read a chunk at a time, so csv can stream quoted fields that span lines."""
    rest = ""
    for chunk in text_chunks(source):
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
    return make_entry(position, row["url"], row["title"], tags=normalise_tags(row["tags"].split("|")), private=True,
                  created=epoch_to_datetime(row["time_added"]), toread=row["status"].strip().lower() == "unread")


def parse_pocket_csv(source: Any) -> Iterator[Entry]:
    """Pocket's CSV export: title,url,time_added,tags,status; tags joined by '|', status 'unread' is to-read."""
    return _csv_entries(source, "pocket-csv", _pocket)


def _raindrop(position: str, row: dict[str, str], folders_as_tags: bool = True) -> Entry:
    # The note is the owner's own words; the excerpt (the page's summary) stands in when there is none.
    description = row["note"].strip() or row["excerpt"].strip()
    folders = row["folder"].split(" / ") if folders_as_tags else []
    return make_entry(position, row["url"], row["title"], description=description,
                  tags=normalise_tags(row["tags"].split(",") + folders), created=parse_iso_datetime(row["created"]))


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
    return make_entry(position, row["url"], row["title"], description=row["selection"].strip(), private=True,
                  tags=normalise_tags(_instapaper_tags(row.get("tags", "")) + folders),
                  created=epoch_to_datetime(row.get("timestamp")), toread=folder.lower() == "unread")


def parse_instapaper_csv(source: Any, *, folders_as_tags: bool = True) -> Iterator[Entry]:
    """Instapaper's CSV export (URL,Title,Selection,Folder, since late 2025 also Timestamp,Tags): 'Unread' is
    to-read, other folders but Archive and Starred are tags."""
    return _csv_entries(source, "instapaper-csv",
                        lambda position, row: _instapaper(position, row, folders_as_tags))
