"""linkding's REST API as linkblog speaks it: its search syntax, its field names and its error shapes.

Pure functions only: the views (``web/linkding.py``) read through ``queries/linkding.py`` and write through
``bookmarks.py``. The mapping, decided once here and documented in the README:

- ``url``/``title`` are ours; ``description`` is the quote (or summary), ``notes`` the Markdown annotation;
- ``tag_names`` are our tags (cleaned: lower case, linkblog's tag rules);
- ``shared`` is true for public and unlisted bookmarks; setting it true on a followers-only or private bookmark
  makes it public, false on a public or unlisted one makes it private (a value that already agrees keeps ours);
- ``unread`` is the to-read flag, ``is_archived`` the archived state;
- ``date_added``/``date_modified`` are ``created_at``/``updated_at``; ``date_added`` is honoured when a bookmark
  is created (linkding's sync tools send it), otherwise linkblog sets its own times.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..dates import parse_iso_datetime
from ..states import Visibility

# What /health and the profile report. aiolinkding refuses servers older than 1.22.0; 1.44.0 is the release
# whose search syntax (and, or, not, parentheses) `q` follows here.
LINKDING_VERSION = "1.44.0"

SHARED_VISIBILITIES = (Visibility.PUBLIC, Visibility.UNLISTED)
TEXT_FIELDS = {"url": "url", "title": "title", "description": "quote", "notes": "annotation"}
BOOLEAN_FIELDS = ("unread", "shared", "is_archived")
TRUE_VALUES = {"t", "y", "yes", "true", "on", "1", 1, True}   # Django REST framework's BooleanField, lower-cased
FALSE_VALUES = {"f", "n", "no", "false", "off", "0", 0, False}


# --- search: linkding's `q` ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Term:
    text: str


@dataclass(frozen=True)
class TagTerm:
    name: str


@dataclass(frozen=True)
class Keyword:
    name: str  # "unread" and "untagged" filter; any other keyword matches everything, as in linkding


@dataclass(frozen=True)
class And:
    left: "Expression"
    right: "Expression"


@dataclass(frozen=True)
class Or:
    left: "Expression"
    right: "Expression"


@dataclass(frozen=True)
class Not:
    operand: "Expression"


Expression = Term | TagTerm | Keyword | And | Or | Not


class SearchSyntaxError(ValueError):
    """A query linkding cannot parse either: it answers with no results, and so do we."""


MAX_QUERY = 2000      # characters of `q` read; a longer query is refused (no results), not parsed
MAX_DEPTH = 50        # nested parentheses and `not`s; deeper is a syntax error, never a RecursionError


def _tokens(query: str) -> list[tuple[str, str]]:
    """(kind, value) pairs: TERM, TAG, KEYWORD, AND, OR, NOT, (, ). Quotes make a phrase (a TERM)."""
    out: list[tuple[str, str]] = []
    i, n = 0, len(query)
    while i < n:
        ch = query[i]
        if ch.isspace():
            i += 1
        elif ch in "()":
            out.append((ch, ch))
            i += 1
        elif ch in "\"'":
            i += 1
            text = []
            while i < n and query[i] != ch:
                if query[i] == "\\" and i + 1 < n:
                    i += 1
                    text.append({"n": "\n", "t": "\t", "r": "\r"}.get(query[i], query[i]))
                else:
                    text.append(query[i])
                i += 1
            i += 1  # the closing quote (an unclosed one ends at the end, as in linkding)
            out.append(("TERM", "".join(text)))
        elif ch in "#!":
            j = i + 1
            while j < n and not query[j].isspace() and query[j] not in "()\"'":
                j += 1
            if j > i + 1:
                out.append(("TAG" if ch == "#" else "KEYWORD", query[i + 1:j]))
            i = j
        else:
            j = i
            while j < n and not query[j].isspace() and query[j] not in "()\"'#!":
                j += 1
            word = query[i:j]
            out.append((word.upper(), word) if word.lower() in ("and", "or", "not") else ("TERM", word))
            i = j
    return out


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]):
        self.tokens, self.at, self.depth = tokens, 0, 0

    def kind(self) -> str:
        return self.tokens[self.at][0] if self.at < len(self.tokens) else "EOF"

    def take(self) -> tuple[str, str]:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise SearchSyntaxError("the query nests too deeply")

    def any_of(self) -> Expression:
        left = self.all_of()
        while self.kind() == "OR":
            self.take()
            left = Or(left, self.all_of())
        return left

    def all_of(self) -> Expression:
        left = self.negated()
        while self.kind() in ("AND", "TERM", "TAG", "KEYWORD", "(", "NOT"):
            if self.kind() == "AND":
                self.take()
            left = And(left, self.negated())
        return left

    def negated(self) -> Expression:
        if self.kind() == "NOT":
            self.take()
            self.enter()
            operand = self.negated()
            self.depth -= 1
            return Not(operand)
        return self.primary()

    def primary(self) -> Expression:
        kind = self.kind()
        if kind in ("TERM", "TAG", "KEYWORD"):
            value = self.take()[1]
            return Term(value) if kind == "TERM" else TagTerm(value) if kind == "TAG" else Keyword(value.lower())
        if kind == "(":
            self.take()
            self.enter()
            inner = self.any_of()
            self.depth -= 1
            if self.kind() != ")":
                raise SearchSyntaxError(f"expected ')', got {self.kind()}")
            self.take()
            return inner
        raise SearchSyntaxError(f"unexpected {kind}")


def parse_query(query: str | None) -> Expression | None:
    """linkding's search syntax: words and "phrases" (title, description, notes or URL contain them), #tags,
    !unread and !untagged, and/or/not with parentheses; juxtaposition means and. None for an empty query;
    SearchSyntaxError for one linkding would not parse (or one beyond MAX_QUERY or MAX_DEPTH)."""
    if not query or not query.strip():
        return None
    if len(query) > MAX_QUERY:
        raise SearchSyntaxError(f"the query is longer than {MAX_QUERY} characters")
    parser = _Parser(_tokens(query.strip()))
    expression = parser.any_of()
    if parser.kind() != "EOF":
        raise SearchSyntaxError(f"unexpected {parser.kind()}")
    return expression


# --- fields ----------------------------------------------------------------------------------------------------

def iso(moment: datetime | None) -> str | None:
    """Django REST framework's datetime format: microseconds, then Z."""
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def is_shared(visibility: str) -> bool:
    return visibility in SHARED_VISIBILITIES


def visibility_for(shared: bool, current: str) -> str:
    """The visibility ``shared`` asks for, keeping ``current`` when it already agrees."""
    if shared:
        return current if current in SHARED_VISIBILITIES else Visibility.PUBLIC
    return current if current not in SHARED_VISIBILITIES else Visibility.PRIVATE


def bookmark_json(item: dict[str, Any]) -> dict[str, Any]:
    """A stored bookmark (``queries.bookmarks`` shape, with ``annotation``) as linkding's serializer writes it."""
    created = item["created_at"]
    return {
        "id": item["id"], "url": item["url"], "title": item["title"], "description": item["quote"],
        "notes": item["annotation"],
        "web_archive_snapshot_url": f"https://web.archive.org/web/{created:%Y%m%d%H%M%S}/{item['url']}",
        "favicon_url": None, "preview_image_url": None,
        "is_archived": bool(item["archived"]), "unread": bool(item["toread"]),
        "shared": is_shared(item["visibility"]), "tag_names": list(item["tags"]),
        "date_added": iso(created), "date_modified": iso(item["updated_at"]),
        "website_title": None, "website_description": None,
    }


def tag_json(tag: dict[str, Any]) -> dict[str, Any]:
    return {"id": tag["id"], "name": tag["name"], "date_added": iso(tag["date_added"])}


def profile_json() -> dict[str, Any]:
    """linkding's user profile: its preferences as linkding's defaults, sharing on (``shared`` means public)."""
    return {
        "theme": "auto", "bookmark_date_display": "relative", "bookmark_link_target": "_blank",
        "web_archive_integration": "disabled", "tag_search": "strict", "enable_sharing": True,
        "enable_public_sharing": True, "enable_favicons": False, "display_url": False, "permanent_notes": False,
        "search_preferences": {}, "version": LINKDING_VERSION,
    }


def check_metadata(url: str) -> dict[str, Any]:
    """The ``metadata`` of ``/check``: linkblog fetches no page for it (the web process never calls out), so
    only the address; the extension then fills title and description from the open tab."""
    return {"url": url, "title": None, "description": None, "preview_image": None}


@dataclass(frozen=True)
class Changes:
    """A request body turned into linkblog's terms: the fields for ``bookmarks.validate`` (linkblog's names),
    and the flags ``shared``/``is_archived`` as given (None: left out)."""

    fields: dict[str, Any]
    shared: bool | None
    archived: bool | None
    added: datetime | None = None    # date_added, honoured when a bookmark is created (linkding's syncs set it)


def _boolean(value: Any) -> bool | None:
    key = value.lower() if isinstance(value, str) else value
    if isinstance(key, (str, int, bool)) and key in TRUE_VALUES:
        return True
    if isinstance(key, (str, int, bool)) and key in FALSE_VALUES:
        return False
    return None


def read_body(data: dict[str, Any], *, creating: bool) -> Changes:
    """linkding's writable fields, checked as its serializer checks them; unknown and read-only fields are
    ignored, as there. Raises FieldErrors (``{field: [message]}``, linkding's 400 body)."""
    errors: dict[str, list[str]] = {}
    fields: dict[str, Any] = {}
    for theirs, ours in TEXT_FIELDS.items():
        if theirs not in data:
            continue
        value = data[theirs]
        if value is None:
            errors[theirs] = ["This field may not be null."]
        elif isinstance(value, bool) or not isinstance(value, (str, int, float)):
            errors[theirs] = ["Not a valid string."]
        elif theirs == "url" and not str(value).strip():
            errors[theirs] = ["This field may not be blank."]
        else:
            fields[ours] = str(value)
    if creating and "url" not in data:
        errors["url"] = ["This field is required."]
    if "tag_names" in data:
        names = data["tag_names"]
        if isinstance(names, str) or not isinstance(names, list):
            errors["tag_names"] = [f'Expected a list of items but got type "{type(names).__name__}".']
        elif not all(isinstance(n, str) for n in names):
            errors["tag_names"] = ["Not a valid string."]
        else:
            fields["tags"] = [n for n in names if n.strip()]
    flags: dict[str, bool | None] = {}
    for name in BOOLEAN_FIELDS:
        if name in data:
            flags[name] = _boolean(data[name])
            if flags[name] is None:
                errors[name] = ["Must be a valid boolean."]
    if "unread" in flags and flags["unread"] is not None:
        fields["toread"] = flags["unread"]
    added = None
    if data.get("date_added") is not None:
        added = parse_iso_datetime(data["date_added"])
        if added is None:
            errors["date_added"] = ["Datetime has wrong format. Use one of these formats instead: "
                                    "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."]
    if errors:
        raise FieldErrors(errors)
    return Changes(fields, flags.get("shared"), flags.get("is_archived"), added)


class FieldErrors(ValueError):
    """Bad fields, as linkding's 400 body: ``{"url": ["Enter a valid URL."]}``."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))
        self.errors = errors


OUR_NAMES = {ours: theirs for theirs, ours in TEXT_FIELDS.items()} | {"tags": "tag_names", "toread": "unread",
                                                                       "visibility": "shared"}


def their_errors(errors: dict[str, str]) -> dict[str, list[str]]:
    """linkblog's validation messages under linkding's field names."""
    return {OUR_NAMES.get(key, key): [message] for key, message in errors.items()}
