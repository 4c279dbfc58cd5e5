"""A pull reader for one large JSON document: walk objects and arrays, decode one value at a time.

The standard ``json`` module only decodes whole documents; a backup or a Pinboard export of 100,000 bookmarks
must be read in flat memory. The reader keeps a window of the text, hands each small value to ``json``'s own
decoder, and reports every problem with the line and column where it happened (a truncated file says so).
Pure: it reads text chunks and touches neither the database nor the network.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

CHUNK = 1 << 16
VALUE_MAX = 64 << 20  # no row is near this; beyond it the file is corrupt, so stop reading it into memory
_DECODER = json.JSONDecoder()
LITERALS = ("true", "false", "null")
_SPACE = " \t\r\n\ufeff"  # a byte-order mark left at the start counts as space


class JsonStreamError(ValueError):
    """The text is not the JSON expected. ``kind`` is truncated, expected (a different character),
    invalid (json's own complaint, in ``reason``) or trailing (text after the document)."""

    def __init__(self, kind: str, reason: str, line: int, column: int, decoder_message: str = ""):
        super().__init__(f"{reason} at line {line} column {column}")
        self.kind, self.reason, self.line, self.column = kind, reason, line, column
        self.decoder_message = decoder_message  # json's own words, when it was json that stopped


class JsonReader:
    """Walk the text: ``members()`` yields an object's keys, ``items()`` an array's indexes; the caller
    reads each member or item with ``value()`` (whole) or another ``members()``/``items()`` (streamed)."""

    def __init__(self, chunks: Iterable[str], value_max: int = VALUE_MAX):
        self._chunks = iter(chunks)
        self._value_max = value_max
        self._buffer = ""
        self._pos = 0
        self._eof = False
        self._line = 1  # line and column where _buffer starts
        self._column = 1

    @classmethod
    def from_stream(cls, stream: TextIO) -> "JsonReader":
        return cls(iter(lambda: stream.read(CHUNK), ""))

    def position(self, pos: int | None = None) -> tuple[int, int]:
        """(line, column) of ``pos`` in the window (default: the current position)."""
        pos = self._pos if pos is None else pos
        newlines = self._buffer.count("\n", 0, pos)
        if not newlines:
            return self._line, self._column + pos
        return self._line + newlines, pos - self._buffer.rfind("\n", 0, pos)

    def where(self) -> str:
        line, column = self.position()
        return f"line {line} column {column}"

    def _error(self, kind: str, reason: str, pos: int | None = None, decoder_message: str = "") -> JsonStreamError:
        return JsonStreamError(kind, reason, *self.position(pos), decoder_message)

    def _fill(self) -> bool:
        """Read one more chunk (dropping what has been consumed); False at end of file."""
        chunk = None if self._eof else next(self._chunks, None)
        if chunk is None:
            self._eof = True
            return False  # the window stays as it was, so positions of a failed decode still hold
        if self._pos > CHUNK:
            self._line, self._column = self.position()
            self._buffer, self._pos = self._buffer[self._pos:], 0
        self._buffer += chunk
        return True

    def peek(self) -> str:
        """The next character that is not white space ('' at end of file), without consuming it."""
        while True:
            while self._pos < len(self._buffer) and self._buffer[self._pos] in _SPACE:
                self._pos += 1
            if self._pos < len(self._buffer):
                return self._buffer[self._pos]
            if not self._fill():
                return ""

    def _expect(self, allowed: str, what: str) -> str:
        found = self.peek()
        if not found:
            raise self._error("truncated", f"the file ends early (truncated?): expected {what}")
        if found not in allowed:
            raise self._error("expected", f"expected {what}, found {found!r}")
        self._pos += 1
        return found

    def value(self) -> Any:
        """Decode the next complete value (string, number, object...)."""
        if not self.peek():
            raise self._error("truncated", "the file ends early (truncated?): expected a value")
        while True:
            try:
                found, end = _DECODER.raw_decode(self._buffer, self._pos)
            except json.JSONDecodeError as exc:
                if len(self._buffer) - self._pos > self._value_max:
                    raise self._error("invalid", "a value far too long (the file is corrupt)") from None
                if self._fill():
                    continue
                rest = self._buffer[exc.pos:].rstrip()  # nothing, or the start of a literal: the text stops here
                truncated = exc.msg.startswith("Unterminated") or any(w.startswith(rest) for w in LITERALS)
                raise self._error("truncated" if truncated else "invalid",
                                  "the file ends early (truncated?)" if truncated else exc.msg, exc.pos,
                                  exc.msg) from None
            if end == len(self._buffer) and isinstance(found, (int, float)) and self._fill():
                continue  # a number may go on in the next chunk
            self._pos = end
            return found

    def _container(self, open_: str, close: str, what: str) -> Iterator[None]:
        self._expect(open_, what)
        if self.peek() == close:
            self._pos += 1
            return
        while True:
            yield
            if self._expect("," + close, f"',' or '{close}'") == close:
                return

    def members(self) -> Iterator[str]:
        """The keys of the next object, in file order; read each one's value before asking for the next."""
        for _ in self._container("{", "}", "a JSON object ('{')"):
            self.peek()
            start = self._pos
            key = self.value()
            if not isinstance(key, str):
                raise self._error("expected", "expected a key (a string)", start)
            self._expect(":", "':'")
            yield key

    def items(self) -> Iterator[int]:
        """The indexes of the next array; read each item before asking for the next."""
        for index, _ in enumerate(self._container("[", "]", "a JSON array ('[')")):
            yield index

    def end(self) -> None:
        """Only white space may follow the document."""
        if self.peek():
            raise self._error("trailing", "unexpected text after the end of the document")
