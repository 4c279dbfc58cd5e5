"""A pull reader for one large JSON document: walk objects and arrays, decode one value at a time.

The standard ``json`` module only decodes whole documents; a backup of 100,000 bookmarks must be read in
flat memory. The reader keeps a window of the text, hands each small value to ``json``'s own decoder, and
reports every problem with the line and column where it happened (a truncated file says so).
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, TextIO

CHUNK = 1 << 16
VALUE_MAX = 64 << 20  # no row is near this; beyond it the file is corrupt, so stop reading it into memory
_DECODER = json.JSONDecoder()
_SPACE = " \t\r\n"


class JsonStreamError(ValueError):
    """The text is not the JSON expected; the message names the line and column."""


class JsonReader:
    """Walk ``stream``: ``members()`` yields an object's keys, ``items()`` an array's indexes; the caller
    reads each member or item with ``value()`` (whole) or another ``members()``/``items()`` (streamed)."""

    def __init__(self, stream: TextIO):
        self._stream = stream
        self._buffer = ""
        self._pos = 0
        self._eof = False
        self._line = 1  # line and column where _buffer starts
        self._column = 1

    def where(self, pos: int | None = None) -> str:
        """'line L column C' of ``pos`` in the window (default: the current position)."""
        pos = self._pos if pos is None else pos
        before = self._buffer[:pos]
        newlines = before.count("\n")
        column = pos - before.rfind("\n") if newlines else self._column + pos
        return f"line {self._line + newlines} column {column}"

    def error(self, message: str, pos: int | None = None) -> JsonStreamError:
        return JsonStreamError(f"{message} at {self.where(pos)}")

    def _fill(self) -> bool:
        """Read one more chunk (dropping what has been consumed); False at end of file."""
        if self._eof:
            return False
        if self._pos > CHUNK:
            consumed = self._buffer[:self._pos]
            newlines = consumed.count("\n")
            self._column = (self._pos - consumed.rfind("\n")) if newlines else self._column + self._pos
            self._line += newlines
            self._buffer, self._pos = self._buffer[self._pos:], 0
        chunk = self._stream.read(CHUNK)
        if not chunk:
            self._eof = True
            return False
        self._buffer += chunk
        return True

    def _peek(self) -> str:
        """The next character that is not white space ('' at end of file), without consuming it."""
        while True:
            while self._pos < len(self._buffer) and self._buffer[self._pos] in _SPACE:
                self._pos += 1
            if self._pos < len(self._buffer):
                return self._buffer[self._pos]
            if not self._fill():
                return ""

    def _expect(self, allowed: str, what: str) -> str:
        found = self._peek()
        if not found:
            raise self.error(f"the file ends early (truncated?): expected {what}")
        if found not in allowed:
            raise self.error(f"expected {what}, found {found!r}")
        self._pos += 1
        return found

    def value(self) -> Any:
        """Decode the next complete value (string, number, object...)."""
        if not self._peek():
            raise self.error("the file ends early (truncated?): expected a value")
        while True:
            try:
                found, end = _DECODER.raw_decode(self._buffer, self._pos)
            except json.JSONDecodeError as exc:
                if len(self._buffer) - self._pos > VALUE_MAX:
                    raise self.error("a value longer than 64 MB (the file is corrupt)") from None
                if self._fill():
                    continue
                truncated = exc.pos >= len(self._buffer) - 1 or exc.msg.startswith("Unterminated")
                reason = "the file ends early (truncated?)" if truncated else exc.msg
                raise self.error(reason, exc.pos) from None
            if end == len(self._buffer) and not self._eof and isinstance(found, (int, float)):
                if self._fill():  # a number may continue in the next chunk
                    continue
            self._pos = end
            return found

    def _container(self, open_: str, close: str, what: str) -> Iterator[None]:
        self._expect(open_, what)
        if self._peek() == close:
            self._pos += 1
            return
        while True:
            yield
            if self._expect("," + close, f"',' or '{close}'") == close:
                return

    def members(self) -> Iterator[str]:
        """The keys of the next object, in file order; read each one's value before asking for the next."""
        for _ in self._container("{", "}", "a JSON object ('{')"):
            start = self._pos
            key = self.value()
            if not isinstance(key, str):
                raise self.error("expected a key (a string)", start)
            self._expect(":", "':'")
            yield key

    def items(self) -> Iterator[int]:
        """The indexes of the next array; read each item before asking for the next."""
        for index, _ in enumerate(self._container("[", "]", "a JSON array ('[')")):
            yield index

    def end(self) -> None:
        """Only white space may follow the document."""
        if self._peek():
            raise self.error("unexpected text after the end of the document")
