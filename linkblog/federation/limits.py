"""How much of a received activity we read: the bounds that keep one stranger's activity cheap.

A 1 MiB body can hold 100,000 addresses, a list nested a thousand deep or HTML that makes a parser
quadratic. Everything the worker does with an activity is linear in what it reads, so what it reads is
bounded here, once, before any handler runs: ``trim`` keeps at most ``list_items`` entries of every list
and ``json_values`` values in all (the rest is dropped, not refused: a Create with too many addresses is
still a reply, read from its first addresses); content HTML is cut to ``content_chars`` characters and
``content_tags`` tags where it is parsed (``markup.tame_html``). The limits are the ``[federation] max_*``
settings; FEDERATION.md ("Limits") documents them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..config import Config
from ..markup import REMOTE_HTML_CHARS, REMOTE_HTML_TAGS

MAX_DEPTH = 16            # objects and lists nested deeper than this are read as empty
FIRST_KEYS = ("id", "type", "actor")   # read before anything else, so a flood of other keys cannot crowd them out


@dataclass(frozen=True)
class Limits:
    """The per-activity bounds; ``Limits.of(config)`` reads them from ``[federation]``."""

    list_items: int = 1000
    json_values: int = 20_000
    content_chars: int = REMOTE_HTML_CHARS
    content_tags: int = REMOTE_HTML_TAGS

    @classmethod
    def of(cls, config: Config | None) -> Limits:
        if config is None:
            return cls()
        get = config.get
        return cls(list_items=get("federation", "max_list_items"), json_values=get("federation", "max_json_values"),
                   content_chars=get("federation", "max_content_chars"),
                   content_tags=get("federation", "max_content_tags"))


def too_many_containers(body: bytes, limits: Limits) -> bool:
    """More ``{`` and ``[`` bytes in a raw body than ``json_values``: parsing alone would cost too much
    (hundreds of thousands of nested lists take a second to build), so the inbox refuses it unparsed.
    Brackets inside strings count too; no real activity comes near the limit."""
    return body.count(b"{") + body.count(b"[") > limits.json_values


def trim(document: Any, limits: Limits) -> Any:
    """A copy of a received JSON document within ``limits``: every list cut to ``list_items`` entries, at
    most ``json_values`` values read in document order (``id``, ``type`` and ``actor`` of each object
    first), nothing deeper than ``MAX_DEPTH``, every string cut to ``content_chars`` characters (content
    is cut there before parsing anyway). Costs O(``json_values``) whatever the document holds."""
    budget = limits.json_values
    cap = limits.list_items
    chars = limits.content_chars

    def walk(value: Any, depth: int) -> Any:
        nonlocal budget
        budget -= 1
        if isinstance(value, list):
            items: list[Any] = []
            if depth < MAX_DEPTH:
                for item in value[:cap]:
                    if budget <= 0:
                        break
                    items.append(walk(item, depth + 1))
            return items
        if isinstance(value, dict):
            fields: dict[str, Any] = {}
            if depth < MAX_DEPTH:
                for key in FIRST_KEYS:
                    if key in value:
                        fields[key] = walk(value[key], depth + 1)
                for key, item in value.items():
                    if budget <= 0:
                        break
                    if key not in fields:
                        fields[key] = walk(item, depth + 1)
            return fields
        if isinstance(value, str) and len(value) > chars:
            return value[:chars]
        return value

    return walk(document, 0)


__all__ = ["Limits", "MAX_DEPTH", "too_many_containers", "trim"]
