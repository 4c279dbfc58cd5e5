"""A bookmark file's text, however it is handed over: in chunks for the streaming parsers, or whole as JSON."""
from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from .entries import ParseError

CHUNK = 64 * 1024


def text_chunks(source: Any) -> Iterator[str]:
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


def load_json(source: Any) -> Any:
    """The whole file as JSON (the stdlib cannot stream it); None for an empty file, ParseError with a position."""
    text = "".join(text_chunks(source)).lstrip("\ufeff")
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParseError((exc.lineno, exc.colno), f"This is not valid JSON ({exc.msg}).") from None
    except RecursionError:
        raise ParseError(None, "The JSON is nested too deeply to be a bookmark file.") from None
