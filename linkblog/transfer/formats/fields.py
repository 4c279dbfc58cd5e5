"""Foreign values as our fields: tags, dates, flags and URLs as the parsers of every format read them.

Shared so that one link imports alike whatever file it came in. Pure: stdlib only.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from .entries import Entry, ImportedBookmark, Invalid

EPOCH = datetime(1970, 1, 1)
ALLOWED_SCHEMES = ("http://", "https://")
_TAG_BAD = re.compile(r"[^\w.+-]+")


def normalise_tag(raw: str) -> str:
    """A folder or foreign tag name as a valid tag name ('' when nothing usable is left)."""
    name = raw.strip().lstrip("#").lower()
    name = re.sub(r"\s+", "-", name)
    name = _TAG_BAD.sub("-", name)
    name = re.sub(r"-{2,}", "-", name)
    name = name.strip("-")
    while name and not (name[0].isalnum() or name[0] == "_"):
        name = name[1:]
    return name[:64]


def normalise_tags(values: Iterable[str]) -> list[str]:
    """Each value as a tag name, in order, without empty ones and repeats."""
    out: list[str] = []
    for value in values:
        name = normalise_tag(value)
        if name and name not in out:
            out.append(name)
    return out


def split_tags(value: str | None) -> list[str]:
    """Tags written in one field, separated by spaces or commas."""
    return [part for part in re.split(r"[\s,]+", value or "") if part]


def epoch_to_datetime(value: str | None) -> datetime | None:
    """ADD_DATE in seconds, milliseconds or microseconds (guessed by magnitude) to naive UTC; junk → None."""
    if value is None:
        return None
    value = value.strip()
    if not re.fullmatch(r"\d+(\.\d+)?", value):
        return None
    number = float(value)
    if number <= 0:
        return None
    if number >= 1e14:
        number /= 1_000_000
    elif number >= 1e11:
        number /= 1000
    try:
        return EPOCH + timedelta(seconds=int(number))
    except OverflowError:
        return None


def is_yes(value: str | None) -> bool:
    """A flag written as 1, true, yes or on (any case)."""
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be imported, or None when it can."""
    if not url:
        return "The bookmark has no URL."
    if not url.lower().startswith(ALLOWED_SCHEMES):
        scheme = url.split(":", 1)[0][:20] if ":" in url else ""
        return f"Only http and https links can be imported (this one is {scheme + ':' if scheme else 'not a URL'})."
    return None


def make_entry(position: str, url: Any, title: Any, **fields: Any) -> Entry:
    """A bookmark, or Invalid when the URL cannot be imported; the title's whitespace collapsed, the URL if empty."""
    url = str(url or "").strip()
    problem = url_problem(url)
    if problem:
        return Invalid(position, problem)
    return ImportedBookmark(url=url, title=" ".join(str(title or "").split()) or url, **fields)
