"""Tag names: what a valid tag is, and parsing the owner's tag input."""
from __future__ import annotations

import re
from collections.abc import Iterable

from .models import TAG_MAX

TAG_RE = re.compile(r"^[\w][\w.+-]*$")
MAX_TAGS = 50


class InvalidTag(ValueError):
    pass


def clean_tag(raw: str) -> str:
    name = raw.strip().lstrip("#").lower()
    if not name:
        raise InvalidTag("A tag cannot be empty.")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise InvalidTag(f"The tag {name!r} contains control characters.")
    if any(ch.isspace() for ch in name):
        raise InvalidTag(f"The tag {name!r} contains spaces; use a dash instead, like {'-'.join(name.split())}.")
    if len(name) > TAG_MAX:
        raise InvalidTag(f"The tag {name[:20]!r}… is longer than {TAG_MAX} characters.")
    if not TAG_RE.match(name):
        if not TAG_RE.match(name[0]):
            raise InvalidTag(f"The tag {name!r} must start with a letter, a digit or '_' "
                             "(then letters, digits, '-', '_', '.' and '+').")
        raise InvalidTag(f"The tag {name!r} may only use letters, digits, '-', '_', '.' and '+' "
                         "(and start with a letter, a digit or '_').")
    return name


def parse_tags(value: str | Iterable[str] | None) -> list[str]:
    """Form text ("a, b c") or an API list to unique, ordered, valid tag names."""
    if value is None:
        return []
    if isinstance(value, str):
        if any(ord(ch) < 32 and ch not in "\t\r\n" for ch in value):
            raise InvalidTag("Tags contain control characters.")
        items = [part for part in re.split(r"[\s,]+", value) if part.strip()]
    else:
        items = list(value)
        if not all(isinstance(item, str) for item in items):
            raise InvalidTag("Tags must be a list of strings.")
    names: list[str] = []
    for item in items:
        name = clean_tag(item)
        if name not in names:
            names.append(name)
    if len(names) > MAX_TAGS:
        raise InvalidTag(f"A bookmark can have at most {MAX_TAGS} tags.")
    return names
