"""Reading what other servers send: ActivityStreams 2.0 in every shape it arrives in, and their HTML.

AS2 (compacted JSON-LD) lets a property be one value or a list, a reference be a bare id or an embedded
object, and the Public collection be spelt three ways; every reader of a remote document goes through
these helpers so each tolerates the same shapes. Pure on purpose: plain data in, no database, Flask or
HTTP, so the inbox, signature checks, following and the web pages all read documents the same way. The
URL checks they share (``is_web``, ``host_of``) live in :mod:`linkblog.urls`, where the queries can use
them too.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from html import unescape
from html.parser import HTMLParser
from typing import Any

from ..dates import parse_iso_datetime
from ..markup import REMOTE_HTML_CHARS, REMOTE_HTML_TAGS, scannable_html
from ..urls import host_of, is_http_url

PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
PUBLIC_FORMS = frozenset({PUBLIC, "as:Public", "Public"})
EXCERPT_CHARS = 280
EXCERPT_SOURCE = 20   # text_excerpt reads at most this many characters of HTML per character it keeps
EARLIEST = datetime(1970, 1, 1)   # remote times before this, or more than FUTURE_SKEW ahead, are not believed
FUTURE_SKEW = timedelta(days=1)
SKIPPED_CLASSES = {"mention", "hashtag", "u-url"}
QUOTE_KEYS = ("quoteUrl", "quoteUri", "quoteURL", "_misskey_quote", "quote")


# --- shapes ---------------------------------------------------------------------------------------------


def as_list(value: Any) -> list[Any]:
    """AS2 lets any property be one value or an array: None -> [], a list -> itself, else [value]."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, tuple):
        return list(value)
    return [value]


def single(value: Any) -> Any:
    """Compacted JSON-LD writes one value bare or as a one-item list; both mean the value."""
    return value[0] if isinstance(value, list) and len(value) == 1 else value


def id_of(value: Any) -> str | None:
    """A reference's id: a string is one; an embedded object has one in "id" (a Link in "href")."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        ident = value.get("id")
        if ident is None and "Link" in as_list(value.get("type")):
            ident = value.get("href")
        return ident if isinstance(ident, str) else None
    return None


def is_public(address: Any) -> bool:
    """True for the Public collection in any spelling servers use (full IRI, "as:Public", "Public")."""
    return id_of(address) in PUBLIC_FORMS


def audience(activity: Any) -> list[str]:
    """Every address of an activity (to, cc, audience, and bto/bcc should any survive), as ids, once."""
    if not isinstance(activity, Mapping):
        return []
    found: dict[str, None] = {}   # a dict: ordered, and each lookup is O(1) (a list made this quadratic)
    for key in ("to", "cc", "audience", "bto", "bcc"):
        for entry in as_list(activity.get(key)):
            ident = id_of(entry)
            if ident:
                found[ident] = None
    return list(found)


def has_type(obj: Any, kind: str) -> bool:
    """``type`` may be a string or a list of strings."""
    return isinstance(obj, Mapping) and kind in as_list(obj.get("type"))


def hrefs(value: Any) -> list[str]:
    """URLs out of a ``url``-like property: strings, Link objects (href) or a list of either."""
    found = []
    for entry in as_list(value):
        href = entry if isinstance(entry, str) else entry.get("href") if isinstance(entry, Mapping) else None
        if isinstance(href, str):
            found.append(href)
    return found


# --- HTML -----------------------------------------------------------------------------------------------


_TAG = re.compile(r'<(/?)([A-Za-z][^\s/>]*)((?:[^>"]|"[^"]*")*)>')
_ATTRIBUTE = re.compile(r'([^\s="/]+)(?:="([^"]*)")?')


def _anchors(html: str) -> list[tuple[str, set[str], set[str]]]:
    """(href, classes, rel) of every <a> in HTML as html5ever writes it (``markup.scannable_html``: every
    tag complete, attribute values double-quoted, no ``<`` in text), except inside a quote-inline element
    (the "RE: <link>" fallback Mastodon and Akkoma add to quote posts). A regular expression over the
    tags, so text costs nothing and the whole is linear."""
    found: list[tuple[str, set[str], set[str]]] = []
    quote_tag: str | None = None
    quote_depth = 0
    for match in _TAG.finditer(html):
        closing, tag = match.group(1), match.group(2).lower()
        if closing:
            if tag == quote_tag:
                quote_depth -= 1
                if quote_depth == 0:
                    quote_tag = None
            continue
        if quote_tag is not None:
            quote_depth += tag == quote_tag
            continue
        values = {name.lower(): unescape(value or "") for name, value in _ATTRIBUTE.findall(match.group(3))}
        classes = set(values.get("class", "").split())
        if "quote-inline" in classes:
            quote_tag, quote_depth = tag, 1
        elif tag == "a" and values.get("href"):
            found.append((values["href"].strip(), classes, set(values.get("rel", "").lower().split())))
    return found


def _content(obj: Mapping[str, Any]) -> str:
    content = obj.get("content")
    if isinstance(content, str) and content:
        return content
    content_map = obj.get("contentMap")
    if isinstance(content_map, Mapping):
        for value in content_map.values():
            if isinstance(value, str):
                return value
    return ""


def first_link(obj: Any, *, max_chars: int = REMOTE_HTML_CHARS, max_tags: int = REMOTE_HTML_TAGS) -> str | None:
    """The URL a remote post links to, or None.

    In order: a ``Link`` attachment's href (Betula, Postmarks, Lemmy link posts); else the first
    absolute ``<a href>`` in ``content`` that is not a mention, a hashtag, a tag's href, a quoted post
    or on the post's own host (profiles, media, the server's pages); else ``url`` when it is not the
    post itself (taken as: on another host than the post's id, since servers point ``url`` at the
    post's own HTML page). A Create/Update is unwrapped. Only the first ``max_chars`` characters and
    ``max_tags`` tags of ``content`` are read (``markup.scannable_html``).
    """
    if not isinstance(obj, Mapping):
        return None
    if obj.get("type") in ("Create", "Update") and isinstance(obj.get("object"), Mapping):
        obj = obj["object"]
    own_id = id_of(obj)
    own = {own_id, *hrefs(obj.get("url"))}
    for attachment in as_list(obj.get("attachment")):
        if has_type(attachment, "Link") and is_http_url(attachment.get("href")) and attachment["href"] not in own:
            return attachment["href"]

    skip = set(own)
    for tag in as_list(obj.get("tag")):
        if isinstance(tag, Mapping):
            skip.update(hrefs(tag.get("href")))
            skip.update(hrefs(tag.get("id")))
    for key in QUOTE_KEYS:
        skip.update(hrefs(obj.get(key)))
    content = _content(obj)
    if content:
        for href, classes, rel in _anchors(scannable_html(content, max_chars, max_tags)):
            if classes & SKIPPED_CLASSES or "tag" in rel or href in skip or not is_http_url(href):
                continue
            if own_id and host_of(href) == host_of(own_id):
                continue
            return href

    for href in hrefs(obj.get("url")):
        if is_http_url(href) and href != own_id and host_of(href) != host_of(own_id):
            return href
    return None


class _Text(HTMLParser):
    """Collects the text of an HTML fragment (for previews and excerpts)."""

    BLOCKS = {"p", "br", "li", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "div"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.BLOCKS:
            self.chunks.append(" ")

    def handle_data(self, data: str) -> None:
        self.chunks.append(data)


def text_excerpt(fragment: str, limit: int = EXCERPT_CHARS) -> str:
    """The first ``limit`` characters of a sanitised HTML fragment's text, cut at a word, with an ellipsis.
    Reads at most ``EXCERPT_SOURCE * limit`` characters of it: a page of excerpts costs the same whatever
    was stored."""
    parser = _Text()
    parser.feed((fragment or "")[:max(limit, 1) * EXCERPT_SOURCE])
    parser.close()
    text = " ".join("".join(parser.chunks).split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0] or text[:limit]
    return cut.rstrip(" ,.;:") + "…"


def remote_time(value: Any, now: datetime) -> datetime | None:
    """A time another server sent (``published``, ``updated``), as naive UTC, or None when it is missing,
    malformed, before 1970 or more than a day after ``now``: such a time is a mistake or an attack (year
    9999 or 0001 cannot even be shown in some time zones), and the caller uses the time it received it."""
    moment = parse_iso_datetime(value)
    if moment is None or not EARLIEST <= moment <= now + FUTURE_SKEW:
        return None
    return moment


__all__ = ["PUBLIC", "PUBLIC_FORMS", "as_list", "audience", "first_link", "has_type", "hrefs", "id_of", "is_public",
           "remote_time", "single", "text_excerpt"]
