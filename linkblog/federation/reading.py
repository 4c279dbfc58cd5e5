"""Reading what other servers send: ActivityStreams 2.0 in every shape it arrives in, and their HTML.

AS2 (compacted JSON-LD) lets a property be one value or a list, a reference be a bare id or an embedded
object, and the Public collection be spelt three ways; every reader of a remote document goes through
these helpers so each tolerates the same shapes. Pure on purpose: plain data in, no database, Flask or
HTTP, so the inbox, signature checks, following and the web pages all read documents the same way. The
URL checks they share (``is_web``, ``host_of``) live in :mod:`linkblog.urls`, where the queries can use
them too.
"""
from __future__ import annotations

from collections.abc import Mapping
from html.parser import HTMLParser
from typing import Any

from ..urls import host_of, is_http_url

PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
PUBLIC_FORMS = frozenset({PUBLIC, "as:Public", "Public"})
EXCERPT_CHARS = 280
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
    found: list[str] = []
    for key in ("to", "cc", "audience", "bto", "bcc"):
        for entry in as_list(activity.get(key)):
            ident = id_of(entry)
            if ident and ident not in found:
                found.append(ident)
    return found


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


class _Anchors(HTMLParser):
    """(href, classes, rel) of every <a> in an HTML fragment, except inside a quote-inline element
    (the "RE: <link>" fallback Mastodon and Akkoma add to quote posts)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.anchors: list[tuple[str, set[str], set[str]]] = []
        self._quote_tag: str | None = None
        self._quote_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        classes = set(values.get("class", "").split())
        if self._quote_tag is not None:
            self._quote_depth += tag == self._quote_tag
            return
        if "quote-inline" in classes:
            self._quote_tag, self._quote_depth = tag, 1
            return
        if tag == "a" and values.get("href"):
            self.anchors.append((values["href"].strip(), classes, set(values.get("rel", "").lower().split())))

    def handle_endtag(self, tag: str) -> None:
        if self._quote_tag == tag:
            self._quote_depth -= 1
            if self._quote_depth == 0:
                self._quote_tag = None


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


def first_link(obj: Any) -> str | None:
    """The URL a remote post links to, or None.

    In order: a ``Link`` attachment's href (Betula, Postmarks, Lemmy link posts); else the first
    absolute ``<a href>`` in ``content`` that is not a mention, a hashtag, a tag's href, a quoted post
    or on the post's own host (profiles, media, the server's pages); else ``url`` when it is not the
    post itself (taken as: on another host than the post's id, since servers point ``url`` at the
    post's own HTML page). A Create/Update is unwrapped.
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
        parser = _Anchors()
        try:
            parser.feed(content)
            parser.close()
        except (AssertionError, ValueError):  # hostile markup: keep what was parsed
            pass
        for href, classes, rel in parser.anchors:
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
    """The first ``limit`` characters of an HTML fragment's text, cut at a word, with an ellipsis."""
    parser = _Text()
    parser.feed(fragment or "")
    parser.close()
    text = " ".join("".join(parser.chunks).split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0] or text[:limit]
    return cut.rstrip(" ,.;:") + "…"


__all__ = ["PUBLIC", "PUBLIC_FORMS", "as_list", "audience", "first_link", "has_type", "hrefs", "id_of", "is_public",
           "single", "text_excerpt"]
