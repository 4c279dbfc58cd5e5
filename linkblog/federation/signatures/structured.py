"""RFC 8941 structured fields: just what Signature-Input, Signature and Content-Digest use.

Only dictionaries are parsed, and only inner lists, sf-strings and bare items are serialized (what
`@signature-params` needs). Kept by hand rather than taken from a library (http-sf implements RFC 9651)
so that what we accept and the reasons we give stay as they are: RFC 8941 items only (no dates or
display strings) and byte sequences with their base64 padding.
"""
from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Mapping

from .base import quote


class StructuredFieldError(ValueError):
    """The field is not a valid structured field; the message says where it went wrong."""


@dataclass(frozen=True)
class Token:
    """An sf-token, kept apart from sf-string because they serialize differently."""

    value: str


_LCALPHA = "abcdefghijklmnopqrstuvwxyz"
_DIGITS = "0123456789"
_KEY_FIRST = _LCALPHA + "*"
_KEY_CHARS = _LCALPHA + _DIGITS + "_-.*"
_TCHARS = set("!#$%&'*+-.^_`|~:/" + _DIGITS + _LCALPHA + _LCALPHA.upper())
_SF_NUMBER = re.compile(r"-?(\d{1,15})(\.\d{1,3})?")
_B64_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")


class _SFParser:
    """Parser for RFC 8941 §4.2 dictionaries; members are (value, parameters), inner lists are
    lists of (value, parameters)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def _peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _skip(self, chars: str) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in chars:
            self.pos += 1

    def dictionary(self) -> dict[str, tuple[object, dict[str, object]]]:
        members: dict[str, tuple[object, dict[str, object]]] = {}
        self._skip(" ")
        while self.pos < len(self.text):
            key = self._key()
            if self._peek() == "=":
                self.pos += 1
                members[key] = self._inner_list() if self._peek() == "(" else self._item()
            else:
                members[key] = (True, self._parameters())
            self._skip(" \t")
            if self.pos >= len(self.text):
                return members
            if self._peek() != ",":
                raise StructuredFieldError(f"expected ',' at {self.pos}")
            self.pos += 1
            self._skip(" \t")
            if self.pos >= len(self.text):
                raise StructuredFieldError("trailing comma")
        return members

    def _inner_list(self) -> tuple[list[tuple[object, dict[str, object]]], dict[str, object]]:
        self.pos += 1   # "("
        items: list[tuple[object, dict[str, object]]] = []
        while self.pos < len(self.text):
            self._skip(" ")
            if self._peek() == ")":
                self.pos += 1
                return items, self._parameters()
            items.append(self._item())
            if self._peek() not in (" ", ")"):
                raise StructuredFieldError(f"unexpected character in inner list at {self.pos}")
        raise StructuredFieldError("unterminated inner list")

    def _item(self) -> tuple[object, dict[str, object]]:
        return self._bare_item(), self._parameters()

    def _parameters(self) -> dict[str, object]:
        params: dict[str, object] = {}
        while self._peek() == ";":
            self.pos += 1
            self._skip(" ")
            key = self._key()
            value: object = True
            if self._peek() == "=":
                self.pos += 1
                value = self._bare_item()
            params[key] = value
        return params

    def _key(self) -> str:
        start = self.pos
        if self._peek() == "" or self._peek() not in _KEY_FIRST:
            raise StructuredFieldError(f"expected a key at {self.pos}")
        self.pos += 1
        self._skip(_KEY_CHARS)
        return self.text[start:self.pos]

    def _bare_item(self) -> object:
        char = self._peek()
        if char == "-" or (char != "" and char in _DIGITS):
            return self._number()
        if char == '"':
            return self._string()
        if char == ":":
            return self._byte_sequence()
        if char == "?":
            return self._boolean()
        if char != "" and (char.isascii() and char.isalpha() or char == "*"):
            return self._token()
        raise StructuredFieldError(f"unexpected item at {self.pos}")

    def _number(self) -> int | Decimal:
        match = _SF_NUMBER.match(self.text, self.pos)
        if match is None or (match.group(2) and len(match.group(1)) > 12):
            raise StructuredFieldError(f"bad number at {self.pos}")
        self.pos = match.end()
        if self._peek() != "" and self._peek() in _DIGITS + ".":
            raise StructuredFieldError(f"number too long at {self.pos}")
        return Decimal(match.group(0)) if match.group(2) else int(match.group(0))

    def _string(self) -> str:
        self.pos += 1
        chars = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            self.pos += 1
            if char == "\\":
                escaped = self._peek()
                if escaped not in ('"', "\\") or escaped == "":
                    raise StructuredFieldError("bad escape in string")
                chars.append(escaped)
                self.pos += 1
            elif char == '"':
                return "".join(chars)
            elif not " " <= char <= "~":
                raise StructuredFieldError("non-printable character in string")
            else:
                chars.append(char)
        raise StructuredFieldError("unterminated string")

    def _token(self) -> Token:
        start = self.pos
        self.pos += 1
        while self.pos < len(self.text) and self.text[self.pos] in _TCHARS:
            self.pos += 1
        return Token(self.text[start:self.pos])

    def _byte_sequence(self) -> bytes:
        end = self.text.find(":", self.pos + 1)
        if end < 0:
            raise StructuredFieldError("unterminated byte sequence")
        encoded = self.text[self.pos + 1:end]
        if not set(encoded) <= _B64_CHARS:
            raise StructuredFieldError("bad character in byte sequence")
        try:
            decoded = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise StructuredFieldError("byte sequence is not valid base64") from None
        self.pos = end + 1
        return decoded

    def _boolean(self) -> bool:
        value = self.text[self.pos + 1:self.pos + 2]
        if value not in ("0", "1"):
            raise StructuredFieldError("bad boolean")
        self.pos += 2
        return value == "1"


def parse_dictionary(text: str) -> dict[str, tuple[object, dict[str, object]]]:
    """An RFC 8941 dictionary: member name -> (value, parameters); raises StructuredFieldError."""
    return _SFParser(text).dictionary()


def serialize_string(value: str) -> str:
    return '"' + quote(value) + '"'


def _serialize_bare(value: object) -> str:
    if isinstance(value, bool):
        return "?1" if value else "?0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        text = f"{value.quantize(Decimal('0.001')):f}".rstrip("0")
        return text + "0" if text.endswith(".") else text
    if isinstance(value, str):
        return serialize_string(value)
    if isinstance(value, Token):
        return value.value
    if isinstance(value, bytes):
        return ":" + base64.b64encode(value).decode("ascii") + ":"
    raise StructuredFieldError(f"cannot serialize {type(value).__name__}")


def _serialize_params(params: Mapping[str, object]) -> str:
    return "".join(f";{key}" if value is True else f";{key}={_serialize_bare(value)}"
                   for key, value in params.items())


def serialize_inner_list(items: list, params: Mapping[str, object]) -> str:
    """Canonical form of the Signature-Input member: what `@signature-params` must contain."""
    inner = " ".join(_serialize_bare(value) + _serialize_params(item_params) for value, item_params in items)
    return f"({inner}){_serialize_params(params)}"


__all__ = ["StructuredFieldError", "Token", "parse_dictionary", "serialize_inner_list", "serialize_string"]
