"""What every parser yields and every emitter takes: the shapes shared by all bookmark file formats.

Parsers yield ImportedBookmark for good entries and Invalid for entries that are skipped (counted by the
caller); a file that is not a bookmark file at all raises ParseError. Emitters take plain dicts with the
columns of a stored bookmark (to_export_dict makes one from an ImportedBookmark).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from ...states import Visibility


@dataclass(frozen=True)
class ImportedBookmark:
    url: str
    title: str
    description: str = ""
    tags: list[str] = field(default_factory=list)
    created: datetime | None = None
    updated: datetime | None = None
    private: bool = False
    toread: bool = False


@dataclass(frozen=True)
class Invalid:
    """An entry that was skipped: where it was ("line 3, column 4" or "item 2") and why."""
    position: str
    reason: str


Entry = ImportedBookmark | Invalid


class ParseError(ValueError):
    """The whole file is unusable. position is (line, column) when known, (line, None) when only the line is."""

    def __init__(self, position: tuple[int, int | None] | None, reason: str):
        self.position = position
        self.reason = reason
        where = ""
        if position:
            where = f"line {position[0]}, column {position[1]}: " if position[1] else f"line {position[0]}: "
        super().__init__(where + reason)


def marked_private(bookmark: dict) -> bool:
    """Whether an exported bookmark is marked private in the file."""
    # Anything not public (private, unlisted) is marked private so another service will not list it.
    return (bookmark.get("visibility") or Visibility.PUBLIC) != Visibility.PUBLIC


def to_export_dict(bookmark: ImportedBookmark) -> dict:
    """An ImportedBookmark in the shape the emitters take (for round trips and tests)."""
    return {"url": bookmark.url, "title": bookmark.title, "annotation": bookmark.description,
            "tags": list(bookmark.tags), "visibility": Visibility.PRIVATE if bookmark.private else Visibility.PUBLIC,
            "created_at": bookmark.created, "updated_at": bookmark.updated, "toread": bookmark.toread}
