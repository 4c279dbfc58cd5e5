"""Pinboard's v1 API as plain data: its parameter types in, its XML and JSON documents out.

No Flask and no database: ``web/pinboard.py`` reads the request and the bookmarks and hands them here. What
Pinboard calls a post is a bookmark: ``href`` is its URL, ``description`` its title, ``extended`` its
annotation (Markdown), ``tags`` its tags separated by spaces, ``shared`` yes when it is public, ``toread`` the
owner's to-read flag, ``time`` when it was saved. ``hash`` is the MD5 of the URL and ``meta`` the MD5 of every
field shown, as Pinboard's own change signatures.
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from xml.sax.saxutils import quoteattr

from ..states import Visibility

MAX_FILTER_TAGS = 3       # posts/get, recent, all and dates filter by up to three tags, as Pinboard's do
RECENT_DEFAULT, RECENT_MAX = 15, 100   # posts/recent's count
FUTURE_SLACK = timedelta(minutes=10)   # a dt further ahead than this is taken as "now", as Pinboard does
FIRST_YEAR, LAST_YEAR = 1, 2100        # Pinboard's range of valid dates
JSON_TYPE = "text/json"   # what api.pinboard.in answers JSON with; some apps check for it
XML_TYPE = "text/xml"
XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8" ?>\n'
CHUNK_CHARS = 64 * 1024   # posts/all is sent in pieces of about this size

DONE = "done"
MISSING_URL = "missing url"
ALREADY_EXISTS = "item already exists"
NOT_FOUND = "item not found"


class PinboardError(ValueError):
    """Bad input: the message is the ``result_code`` the app is answered with (nothing changed)."""


# --- parameters ---------------------------------------------------------------------------------------------

def yes_no(value: str | None, name: str, default: bool | None = None) -> bool | None:
    """Pinboard's yes/no (``1``/``0`` too: apps send posts/all's ``meta`` that way); absent is ``default``."""
    if value is None or value == "":
        return default
    text = value.strip().lower()
    if text in ("yes", "1"):
        return True
    if text in ("no", "0"):
        return False
    raise PinboardError(f"{name} must be yes or no")


def parse_datetime(value: str, name: str, now: datetime) -> datetime:
    """A Pinboard datetime, ``2026-12-07T10:00:00Z`` (an RFC 3339 offset is converted to UTC), as naive UTC;
    more than ten minutes ahead of ``now`` is reset to ``now``, as Pinboard does."""
    text = value.strip()
    if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)", text):
        raise PinboardError(f"{name} must be a UTC time like 2026-12-07T10:00:00Z")
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        moment = (moment - moment.utcoffset()).replace(tzinfo=None)  # type: ignore[operator]
    except (ValueError, OverflowError):
        raise PinboardError(f"{name} must be a UTC time like 2026-12-07T10:00:00Z") from None
    if not FIRST_YEAR <= moment.year < LAST_YEAR:
        raise PinboardError(f"{name} must be between the years {FIRST_YEAR} and {LAST_YEAR}")
    return now if moment > now + FUTURE_SLACK else moment.replace(microsecond=0)


def parse_date(value: str, name: str) -> date:
    """A Pinboard date, ``2026-12-07`` (a whole datetime is read as its UTC day)."""
    text = value.strip()
    try:
        if re.fullmatch(r"\d{4}-\d\d-\d\d", text):
            return date.fromisoformat(text)
        return parse_datetime(text, name, datetime.max - FUTURE_SLACK).date()
    except (ValueError, PinboardError):
        raise PinboardError(f"{name} must be a date like 2026-12-07") from None


def whole_number(value: str | None, name: str, default: int | None = None) -> int | None:
    if value is None or value == "":
        return default
    text = value.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 10:
        raise PinboardError(f"{name} must be a whole number")
    return int(text)


def filter_tags(value: str | None) -> list[str]:
    """The tags a list is filtered by: separated by spaces (or commas), at most three."""
    names = [t for t in re.split(r"[\s,]+", value or "") if t]
    if len(names) > MAX_FILTER_TAGS:
        raise PinboardError(f"filter by at most {MAX_FILTER_TAGS} tags")
    return names


def split_token(value: str) -> tuple[str, str] | None:
    """``user:TOKEN`` as (user, token); None when it is not of that form."""
    user, colon, secret = value.partition(":")
    if not colon or not user or not secret or ":" in secret:
        return None
    return user, secret


# --- documents ----------------------------------------------------------------------------------------------

def format_time(moment: datetime) -> str:
    """``2026-12-07T10:00:00Z`` (four-digit years before 1000 too, which strftime would shorten)."""
    return f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S}Z"


def md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def post(item: dict[str, Any]) -> dict[str, str]:
    """A bookmark (its url, title, annotation, tags_text, visibility, toread, created_at) as a Pinboard post."""
    shown = {
        "href": item["url"], "description": item["title"], "extended": item["annotation"],
        "time": format_time(item["created_at"]),
        "shared": "yes" if item["visibility"] == Visibility.PUBLIC else "no",
        "toread": "yes" if item["toread"] else "no", "tags": item["tags_text"],
    }
    return {"href": shown["href"], "description": shown["description"], "extended": shown["extended"],
            "meta": md5(json.dumps(shown, sort_keys=True)), "hash": md5(item["url"]), "time": shown["time"],
            "shared": shown["shared"], "toread": shown["toread"], "tags": shown["tags"]}


@dataclass
class Answer:
    """One document in both of Pinboard's formats: ``json`` as a value, ``xml`` as an element."""

    json: Any
    xml: ET.Element
    extra: dict[str, str] = field(default_factory=dict)

    def render(self, fmt: str) -> tuple[str, str]:
        """(body, media type) for ``format=json`` or the default XML."""
        if fmt == "json":
            return json.dumps(self.json, ensure_ascii=False), JSON_TYPE
        return XML_DECLARATION + ET.tostring(self.xml, encoding="unicode") + "\n", XML_TYPE


def _element(name: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.Element(name, attrs)
    element.text = text
    return element


def result_code(code: str) -> Answer:
    """posts/add and posts/delete: ``{"result_code": "done"}`` / ``<result code="done" />``."""
    return Answer({"result_code": code}, _element("result", code=code))


def result(text: str) -> Answer:
    """tags/delete, tags/rename and user/api_token: ``{"result": "done"}`` / ``<result>done</result>``."""
    return Answer({"result": text}, _element("result", text))


def update_time(moment: datetime) -> Answer:
    return Answer({"update_time": format_time(moment)}, _element("update", time=format_time(moment)))


def _post_element(p: dict[str, str]) -> ET.Element:
    return _element("post", href=p["href"], time=p["time"], description=p["description"], extended=p["extended"],
                    tag=p["tags"], hash=p["hash"], meta=p["meta"], shared=p["shared"], toread=p["toread"])


def posts(items: list[dict[str, Any]], *, user: str, moment: datetime, tags: list[str],
          day: date | None = None) -> Answer:
    """posts/get and posts/recent: the posts with the user, their date and the filter."""
    shown = [post(i) for i in items]
    root = _element("posts", user=user, dt=(day.isoformat() if day else format_time(moment)), tag=" ".join(tags))
    root.extend(_post_element(p) for p in shown)
    return Answer({"date": format_time(moment), "user": user, "posts": shown}, root)


def all_posts(items: Iterable[dict[str, Any]], fmt: str, *, user: str, tags: list[str]) -> Iterator[str]:
    """posts/all, every bookmark (a bare list in JSON), written as ``items`` are read: in pieces of about
    ``CHUNK_CHARS`` characters, so the whole answer never sits in memory."""
    if fmt == "json":
        opening, closing = "[", "]"
        def one(p: dict[str, str], first: bool) -> str:
            return ("" if first else ",") + json.dumps(p, ensure_ascii=False)
    else:
        opening = f"{XML_DECLARATION}<posts user={quoteattr(user)} tag={quoteattr(' '.join(tags))}>"
        closing = "</posts>\n"
        def one(p: dict[str, str], first: bool) -> str:
            return ET.tostring(_post_element(p), encoding="unicode")
    pending, size = [opening], len(opening)
    for n, item in enumerate(items):
        pending.append(one(post(item), n == 0))
        size += len(pending[-1])
        if size >= CHUNK_CHARS:
            yield "".join(pending)
            pending, size = [], 0
    pending.append(closing)
    yield "".join(pending)


def dates(counts: list[tuple[str, int]], *, user: str, tags: list[str]) -> Answer:
    """posts/dates: bookmarks saved per UTC day (counts as strings in JSON, as Pinboard sends them)."""
    root = _element("dates", user=user, tag=" ".join(tags))
    root.extend(_element("date", date=day, count=str(n)) for day, n in counts)
    return Answer({"user": user, "tag": " ".join(tags), "dates": {day: str(n) for day, n in counts}}, root)


def tag_counts(counts: list[tuple[str, int]]) -> Answer:
    root = _element("tags")
    root.extend(_element("tag", tag=name, count=str(n)) for name, n in counts)
    return Answer({name: str(n) for name, n in counts}, root)


def suggestions(popular: list[str], recommended: list[str]) -> Answer:
    root = _element("suggested")
    root.extend(_element("popular", name) for name in popular)
    root.extend(_element("recommended", name) for name in recommended)
    return Answer([{"popular": popular}, {"recommended": recommended}], root)


def notes() -> Answer:
    """notes/list: linkblog keeps no private notes (weeknotes are writing for readers), so always empty."""
    return Answer({"count": 0, "notes": []}, _element("notes", count="0"))


# --- logs ---------------------------------------------------------------------------------------------------

_V1_QUERY = re.compile(r"(/v1(?:/[^\s?\"']*)?)\?[^\s\"']*")
_AUTH_TOKEN = re.compile(r"(auth_token=)[^&\s\"']*")


def redact(text: str) -> str:
    """Drop the query string of every /v1/ address in a log line (it may hold ``auth_token``), and the value
    of an ``auth_token`` sent anywhere else by mistake (refused there, but it would still be logged)."""
    return _AUTH_TOKEN.sub(r"\1[redacted]", _V1_QUERY.sub(r"\1", text))


class RedactV1Queries(logging.Filter):
    """A logging filter that rewrites a record without /v1/ query strings (the access log's request line, an
    error naming the request's URI), so a Pinboard token in the URL never reaches a log file."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken record is the handler's to report, not ours
            return True
        if "/v1" in message or "auth_token=" in message:
            record.msg, record.args = redact(message), None
        return True


REDACTED_LOGGERS = ("werkzeug", "gunicorn.access", "gunicorn.error")


def install_log_redaction() -> None:
    """Put ``RedactV1Queries`` on the loggers that write request lines and URIs (the development server's and
    gunicorn's access and error logs); installing it twice adds it once."""
    for name in REDACTED_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactV1Queries) for f in logger.filters):
            logger.addFilter(RedactV1Queries())
