"""Atom (RFC 4287), RSS 2.0 and JSON Feed 1.1 documents from plain data.

Pure on purpose: no database, no Flask, no HTTP, so every format can be tested with literals and the
web layer stays a thin mapping from query rows to ``Entry`` dicts. XML is built with ElementTree (it
escapes every text and attribute value) and output is deterministic, so a hash of it is a valid ETag.

An entry is a dict with these keys (``external_url``, ``tags`` and ``author`` may be left out):

- ``id``: absolute permalink, also the entry's stable id
- ``url``: the permalink (rel=alternate)
- ``external_url``: the page a bookmark points to (rel=related), or ``None``
- ``title``: plain text
- ``content_html``: HTML, already sanitised by whoever stored it
- ``published``, ``updated``: naive UTC ``datetime``
- ``tags``: list of tag names
- ``author``: display name (defaults to the feed's author)
"""
from __future__ import annotations

import html
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable

from .dates import format_http_date as rfc822  # RSS 2.0 calls IMF-fixdate an RFC 822 date
from .dates import rfc3339

ATOM_NS = "http://www.w3.org/2005/Atom"
DC_NS = "http://purl.org/dc/elements/1.1/"
XML_NS = "http://www.w3.org/XML/1998/namespace"
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
EPOCH = datetime(1970, 1, 1)
GENERATOR = "linkblog"

ATOM_TYPE = "application/atom+xml; charset=utf-8"
RSS_TYPE = "application/rss+xml; charset=utf-8"
JSON_TYPE = "application/feed+json; charset=utf-8"

# Characters XML 1.0 cannot carry at all, not even escaped; they are dropped rather than break the feed.
_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

# Prefixes for the two extension namespaces RSS needs (self link, author name); without registration
# ElementTree would invent ns0/ns1, which is valid but ugly.
ET.register_namespace("atom", ATOM_NS)
ET.register_namespace("dc", DC_NS)

Entry = dict[str, Any]


@dataclass(frozen=True)
class FeedMeta:
    """What a feed says about itself; URLs are absolute."""

    title: str
    self_url: str  # this document (Atom: also the feed id)
    home_url: str  # the HTML page the feed mirrors
    language: str
    author: str
    author_url: str = ""
    description: str = ""
    icon: str = ""  # the owner's avatar, when they uploaded one


# ---------------------------------------------------------------- helpers


def _clean(text: str | None) -> str:
    return _NOT_XML.sub("", text or "")


def feed_updated(entries: Iterable[Entry]) -> datetime:
    """The newest entry time, or the epoch for an empty feed (stable, so the ETag is too)."""
    return max((max(e["updated"], e["published"]) for e in entries), default=EPOCH)


def bookmark_content(url: str, title: str, quote: str, quote_link: str, annotation_html: str) -> str:
    """A bookmark as HTML for readers: the link, the quote pointing at its place, then the annotation.

    Title, URLs and quote are owner text and are escaped here; ``annotation_html`` was sanitised on save.
    """
    parts = [f'<p><a href="{html.escape(url)}">{html.escape(title or url)}</a></p>']
    if quote.strip():
        lines = "<br>".join(html.escape(line) for line in quote.strip().splitlines())
        link = html.escape(quote_link or url)
        parts.append(f'<blockquote cite="{link}"><p>{lines}</p>'
                     f'<p><a href="{link}">Read the quote in context</a></p></blockquote>')
    if annotation_html.strip():
        parts.append(annotation_html.strip())
    return "\n".join(parts)


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, {k: _clean(v) for k, v in attrs.items()})
    if text is not None:
        element.text = _clean(text)
    return element


def _xml(root: ET.Element) -> bytes:
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


# ---------------------------------------------------------------- Atom


def atom(meta: FeedMeta, entries: list[Entry]) -> bytes:
    """RFC 4287: ids are permalinks, the self link makes the feed discoverable, times in UTC."""
    # Atom is the default namespace: elements stay unqualified and the root declares it (ElementTree's
    # default_namespace option refuses the unqualified attribute names Atom uses).
    feed = ET.Element("feed", {"xmlns": ATOM_NS, f"{{{XML_NS}}}lang": _clean(meta.language)})
    _sub(feed, "id", meta.self_url)
    _sub(feed, "title", meta.title, type="text")
    if meta.description:
        _sub(feed, "subtitle", meta.description, type="text")
    _sub(feed, "updated", rfc3339(feed_updated(entries)))
    _sub(feed, "link", rel="self", type="application/atom+xml", href=meta.self_url)
    _sub(feed, "link", rel="alternate", type="text/html", href=meta.home_url)
    _atom_author(feed, meta.author, meta.author_url)
    _sub(feed, "generator", GENERATOR)
    if meta.icon:
        _sub(feed, "icon", meta.icon)
    for entry in entries:
        item = _sub(feed, "entry")
        _sub(item, "id", entry["id"])
        _sub(item, "title", entry["title"], type="text")
        _sub(item, "link", rel="alternate", type="text/html", href=entry["url"])
        if entry.get("external_url"):
            _sub(item, "link", rel="related", href=entry["external_url"])
        _sub(item, "published", rfc3339(entry["published"]))
        _sub(item, "updated", rfc3339(max(entry["updated"], entry["published"])))
        _atom_author(item, entry.get("author") or meta.author, meta.author_url)
        for tag in entry.get("tags") or ():
            _sub(item, "category", term=tag)
        _sub(item, "content", entry["content_html"], type="html")
    return _xml(feed)


def _atom_author(parent: ET.Element, name: str, url: str) -> None:
    author = _sub(parent, "author")
    _sub(author, "name", name)
    if url:
        _sub(author, "uri", url)


# ---------------------------------------------------------------- RSS 2.0


def rss(meta: FeedMeta, entries: list[Entry]) -> bytes:
    """RSS 2.0 with atom:link rel=self (feed validators ask for it) and dc:creator (``author`` wants e-mail)."""
    root = ET.Element("rss", {"version": "2.0"})
    channel = _sub(root, "channel")
    _sub(channel, "title", meta.title)
    _sub(channel, "link", meta.home_url)
    _sub(channel, "description", meta.description or meta.title)
    _sub(channel, "language", meta.language)
    _sub(channel, "lastBuildDate", rfc822(feed_updated(entries)))
    _sub(channel, "generator", GENERATOR)
    _sub(channel, f"{{{ATOM_NS}}}link", rel="self", type="application/rss+xml", href=meta.self_url)
    if meta.icon:
        image = _sub(channel, "image")
        for name, value in (("url", meta.icon), ("title", meta.title), ("link", meta.home_url)):
            _sub(image, name, value)
    for entry in entries:
        item = _sub(channel, "item")
        _sub(item, "title", entry["title"])
        _sub(item, "link", entry["url"])
        _sub(item, "guid", entry["id"], isPermaLink="true" if entry["id"] == entry["url"] else "false")
        _sub(item, "pubDate", rfc822(entry["published"]))
        _sub(item, f"{{{DC_NS}}}creator", entry.get("author") or meta.author)
        for tag in entry.get("tags") or ():
            _sub(item, "category", tag)
        _sub(item, "description", entry["content_html"])
    return _xml(root)


# ---------------------------------------------------------------- JSON Feed 1.1


def json_feed(meta: FeedMeta, entries: list[Entry]) -> bytes:
    """JSON Feed 1.1; key order is fixed so identical data gives identical bytes."""
    authors = [_json_author(meta.author, meta.author_url, meta.icon)]
    document: dict[str, Any] = {
        "version": JSON_FEED_VERSION,
        "title": meta.title,
        "home_page_url": meta.home_url,
        "feed_url": meta.self_url,
    }
    if meta.description:
        document["description"] = meta.description
    if meta.icon:
        document["icon"] = meta.icon
    document["language"] = meta.language
    document["authors"] = authors
    items = []
    for entry in entries:
        item: dict[str, Any] = {"id": entry["id"], "url": entry["url"]}
        if entry.get("external_url"):
            item["external_url"] = entry["external_url"]
        item["title"] = entry["title"]
        item["content_html"] = entry["content_html"]
        item["date_published"] = rfc3339(entry["published"])
        item["date_modified"] = rfc3339(max(entry["updated"], entry["published"]))
        if entry.get("tags"):
            item["tags"] = list(entry["tags"])
        item["authors"] = [_json_author(entry["author"], meta.author_url)] if entry.get("author") else authors
        items.append(item)
    document["items"] = items
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


def _json_author(name: str, url: str, avatar: str = "") -> dict[str, str]:
    author = {"name": name, "url": url} if url else {"name": name}
    return author | {"avatar": avatar} if avatar else author


FORMATS = {"atom": (atom, ATOM_TYPE), "rss": (rss, RSS_TYPE), "json": (json_feed, JSON_TYPE)}


def render(fmt: str, meta: FeedMeta, entries: list[Entry]) -> tuple[bytes, str]:
    """The document and its Content-Type; ``fmt`` is one of atom, rss, json (KeyError otherwise)."""
    build, content_type = FORMATS[fmt]
    return build(meta, entries), content_type
