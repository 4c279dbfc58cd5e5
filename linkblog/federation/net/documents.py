"""What comes back from the network, and how a body becomes a JSON document we may trust.

A fetched ActivityPub document counts only if its ``id`` is exactly where it came from: anyone can
serve a document that claims to be someone else's actor.
"""
from __future__ import annotations

import email.utils
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import httpx

from .errors import BadDocument, IdMismatch

AP_CONTENT_TYPE = "application/activity+json"
AS_PROFILE = "https://www.w3.org/ns/activitystreams"
AP_ACCEPT = f'application/activity+json, application/ld+json; profile="{AS_PROFILE}"'
# application/json is accepted too: several servers answer with it despite our Accept header, and
# what makes a document trustworthy is the id check, not the label.
AP_CONTENT_TYPES = frozenset({"application/activity+json", "application/ld+json", "application/json"})


@dataclass(frozen=True)
class Fetched:
    """A successful (2xx) answer after redirects; ``url`` is where it finally came from."""

    url: str
    status: int
    headers: httpx.Headers
    body: bytes


@dataclass(frozen=True)
class Delivery:
    """What a POST to an inbox got back; redirects are not followed (the status says so)."""

    status: int
    headers: httpx.Headers

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def retry_after(self) -> float | None:
        return parse_retry_after(self.headers.get("retry-after"))


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait, from either form RFC 9110 allows (delta-seconds or an HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def media_type(content_type: str | None) -> str:
    """``Application/JSON; charset=utf-8`` -> ``application/json``."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def parse_json_object(fetched: Fetched) -> dict[str, Any]:
    """The body as a JSON object (no id check: for JRDs and key stubs)."""
    try:
        document = json.loads(fetched.body)
    except (ValueError, RecursionError):
        raise BadDocument(f"{fetched.url} did not return valid JSON") from None
    if not isinstance(document, dict):
        raise BadDocument(f"{fetched.url} did not return a JSON object")
    return document


def _comparable(url: str) -> tuple[str, str, int | None, bytes] | None:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return None
    return parsed.scheme, parsed.host, parsed.port, parsed.raw_path  # port is None when default


def checked_document(fetched: Fetched) -> dict[str, Any]:
    """The id must name exactly where the document came from, or anyone could serve anyone's actor."""
    document = parse_json_object(fetched)
    doc_id = document.get("id")
    if not isinstance(doc_id, str) or not doc_id:
        raise BadDocument(f"document at {fetched.url} has no id")
    if "#" in doc_id or _comparable(doc_id) != _comparable(fetched.url):
        raise IdMismatch(f"document at {fetched.url} claims id {doc_id}")
    return document


__all__ = ["AP_ACCEPT", "AP_CONTENT_TYPE", "AP_CONTENT_TYPES", "AS_PROFILE", "Delivery", "Fetched", "checked_document",
           "media_type", "parse_json_object", "parse_retry_after"]
