"""Pinboard's JSON export (posts/all?format=json): parse, read item by item in flat memory, and emit.

Pure: no database, no network.
"""
from __future__ import annotations

import io
import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from ...dates import parse_iso_datetime, rfc3339
from ..jsonstream import JsonReader, JsonStreamError
from .entries import ImportedBookmark, Invalid, ParseError, marked_private
from .fields import is_yes, normalise_tags, split_tags, url_problem
from .source import text_chunks

MAX_ITEM = 8 * 1024 * 1024  # no bookmark is this big: stop looking for the end of a broken one
_ARRAY_PROBLEMS = {"truncated": "The file ends before the JSON array is closed (is it cut off?).",
                   "expected": "Expected ',' or ']' after an item of the JSON array.",
                   "trailing": "There is more after the end of the JSON array.",
                   "invalid": "This is not valid JSON (an item is far too long)."}


def _json_array(source: Any, what: str) -> Iterator[Any]:
    """The items of a top-level JSON array, decoded one at a time so memory stays flat as the file grows."""
    reader = JsonReader(text_chunks(source), value_max=MAX_ITEM)
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
        problem = url_problem(url)
        if problem:
            yield Invalid(f"item {n}", problem)
            continue
        tags = item.get("tags") or ""
        yield ImportedBookmark(
            url=url, title=" ".join(str(item.get("description") or "").split()) or url,
            description=str(item.get("extended") or "").strip(),
            tags=normalise_tags(tags if isinstance(tags, list) else split_tags(str(tags))),
            created=parse_iso_datetime(item.get("time")), updated=None,
            private=str(item.get("shared", "yes")).lower() == "no", toread=is_yes(str(item.get("toread", ""))))


def _iso_z(moment: datetime | None) -> str:
    return "" if moment is None else rfc3339(moment)


def emit_pinboard(bookmarks: Iterable[dict]) -> Iterator[str]:
    """A JSON array, one bookmark per chunk."""
    first = True
    yield "["
    for b in bookmarks:
        item = {
            "href": b["url"], "description": b.get("title") or b["url"], "extended": b.get("annotation") or "",
            "time": _iso_z(b.get("created_at")), "shared": "no" if marked_private(b) else "yes",
            "toread": "yes" if b.get("toread") else "no", "tags": " ".join(b.get("tags") or []),
        }
        yield ("\n" if first else ",\n") + json.dumps(item, ensure_ascii=False)
        first = False
    yield "\n]\n" if not first else "]\n"
