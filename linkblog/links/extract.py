"""What a fetched page says: its text decoded whatever its charset, its metadata, and its readable main text.

The readable text comes from trafilatura (the field's well-kept main-content extractor); it and lxml are imported
inside the functions, so only the worker pays for them. Nothing here runs a script or fetches anything: the page
is bytes in, plain values out. Malformed HTML is whatever lxml's forgiving parser makes of it.

Charsets, in this order: a byte-order mark; valid UTF-8 is read as UTF-8 whatever is declared (a page that
declares latin-1 but sends UTF-8 is common, the reverse decodes as UTF-8 only by accident and then harmlessly);
the charset of the Content-Type header; a ``<meta charset>`` in the first 4 KiB; charset-normalizer's guess (never
UTF-16/32 without a mark); else windows-1252, as browsers do. An unknown charset name is skipped, never fatal.
"""
from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

from .. import markup
from ..urls import is_web

PDF_TYPE = "application/pdf"
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]{1,40})""", re.I)
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9_.:-]{1,40})""", re.I)
_PDF_TITLE = re.compile(rb"/Title\s*\(((?:[^()\\]|\\.){1,500})\)")
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
HTML_CHARS_PER_TEXT_CHAR = 4  # the readable HTML kept is at most this many times the text cap


@dataclass(frozen=True)
class Page:
    """A page as kept: metadata, sanitised readable HTML and its plain text; ``note`` says what was not kept."""

    title: str = ""
    description: str = ""
    site_name: str = ""
    canonical_url: str = ""
    language: str = ""
    favicon: str = ""
    html: str = ""
    text: str = ""
    note: str = ""


def _known(name: str) -> str | None:
    try:
        return codecs.lookup(name).name
    except (LookupError, ValueError):
        return None


def decode(body: bytes, content_type: str = "") -> str:
    """The page as text, by the rules in the module's docstring."""
    for bom, name in _BOMS:
        if body.startswith(bom):
            return body.decode(name, "replace")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    declared = _HEADER_CHARSET.search(content_type or "")
    meta = _META_CHARSET.search(body[:4096])
    for candidate in (declared.group(1) if declared else None, meta.group(1).decode("ascii") if meta else None):
        name = _known(candidate) if candidate else None
        if name and name != "utf-8":
            return body.decode(name, "replace")
    from charset_normalizer import from_bytes  # httpx's own dependency

    best = from_bytes(body[:256 * 1024]).best() if len(body) >= 64 else None
    guess = _known(best.encoding) if best is not None else None
    if guess and not guess.startswith(("utf-16", "utf-32")):  # never guessed without a byte-order mark
        return body.decode(guess, "replace")
    return body.decode("cp1252", "replace")  # what browsers fall back to for an undeclared legacy page


def _one_line(value: Any, limit: int) -> str:
    return " ".join(printable(str(value or "")).split())[:limit]


def _absolute(base: str, href: str | None) -> str:
    if not href:
        return ""
    url = urljoin(base, href.strip())
    return url if is_web(url) else ""


def _head(tree: Any, base: str) -> dict[str, str]:
    """Title, description, site name, canonical URL, language and favicon as the page's head declares them."""
    def first(xpath: str) -> str:
        found = tree.xpath(xpath)
        return str(found[0]) if found else ""

    return {
        "title": _one_line(first("//title/text()") or first("//meta[@property='og:title']/@content"), 500),
        "description": _one_line(first("//meta[@name='description']/@content")
                                 or first("//meta[@property='og:description']/@content"), 2000),
        "site_name": _one_line(first("//meta[@property='og:site_name']/@content"), 500),
        "canonical_url": _absolute(base, first("//link[@rel='canonical']/@href")),
        "language": _one_line(first("/html/@lang") or first("//meta[@http-equiv='content-language']/@content"), 35),
        "favicon": _absolute(base, first("//link[contains(concat(' ', @rel, ' '), ' icon ')]/@href")) or
        _absolute(base, "/favicon.ico"),
    }


# Elements that are never readable text: dropped before trafilatura sees the tree (less work, nothing lost).
NOISE = ("script", "style", "noscript", "svg", "math", "template", "iframe", "object", "embed", "canvas")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # never stored (PostgreSQL refuses NUL in text)
_BLOCKS = ("p", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre", "tr", "br", "hr", "table", "ul", "ol")


def printable(text: str) -> str:
    return _CONTROL.sub("", text)


def text_of(html: str) -> str:
    """The plain text of the kept (sanitised) HTML: one line per block, spaces collapsed."""
    import lxml.html

    if not html.strip():
        return ""
    root = lxml.html.fragment_fromstring(html, create_parent="div")
    for element in root.iter(*_BLOCKS):
        element.tail = "\n" + (element.tail or "")
    lines = (" ".join(line.split()) for line in root.text_content().splitlines())
    return "\n".join(line for line in lines if line)


_TRAFILATURA = {"output_format": "html", "include_links": True, "include_images": False, "include_comments": False,
                "include_tables": True, "deduplicate": False}


def readable_html(tree: Any, url: str) -> str:
    """trafilatura's main text of ``tree`` as HTML. Through ``bare_extraction`` and trafilatura's HTML builder
    rather than ``extract``, which for HTML output also computes a similarity hash of the whole text (for
    deduplication, never used here): a quarter of the time spent on a long article. The same HTML either way;
    a trafilatura that moved its builder gets the slower public path."""
    import trafilatura

    try:
        from trafilatura.htmlprocessing import build_html_output
        from trafilatura.utils import normalize_unicode
    except ImportError:
        return trafilatura.extract(tree, url=url, **_TRAFILATURA) or ""
    document = trafilatura.bare_extraction(tree, url=url, **_TRAFILATURA)
    if document is None or isinstance(document, dict):
        return ""
    return normalize_unicode(build_html_output(document))


def html_page(body: bytes, content_type: str, url: str, max_text_chars: int) -> Page:
    """An HTML page's metadata and readable main text (trafilatura, one pass), the text cut at ``max_text_chars``.
    The text is that of the kept HTML, so what search finds is what the copy shows."""
    import lxml.etree
    import lxml.html

    text = printable(decode(body, content_type))
    try:
        tree = lxml.html.document_fromstring(text.encode("utf-8"), parser=lxml.html.HTMLParser(encoding="utf-8"))
    except (ValueError, lxml.etree.ParserError):
        return Page(note="the page has no HTML to read")
    head = _head(tree, url)
    lxml.etree.strip_elements(tree, *NOISE, with_tail=False)
    readable = readable_html(tree, url)
    html = markup.sanitise_copy(readable, max_chars=max_text_chars * HTML_CHARS_PER_TEXT_CHAR) if readable else ""
    plain = text_of(html)
    note = "" if plain else "no readable text was found on the page"
    if len(plain) > max_text_chars:
        plain = plain[:max_text_chars]
        note = f"the page's text was cut at {max_text_chars:,} characters"
    return Page(html=html, text=plain, note=note, **head)


def page_of(media: str, body: bytes, content_type: str, url: str, max_text_chars: int) -> Page:
    """What is kept of a fetched page, HTML or PDF (``media``: its media type)."""
    if media == PDF_TYPE:
        return pdf_page(body)
    return html_page(body, content_type, url, max_text_chars)


def _pdf_string(raw: bytes) -> str:
    raw = re.sub(rb"\\(.)", rb"\1", raw)
    if raw.startswith(codecs.BOM_UTF16_BE):
        return raw.decode("utf-16", "replace")
    return raw.decode("latin-1")


def pdf_page(body: bytes) -> Page:
    """A PDF: only its title when the document info says it plainly (a cheap scan, no PDF parser); its text is
    not extracted, and the copy says so."""
    match = _PDF_TITLE.search(body[:65536]) or _PDF_TITLE.search(body[-65536:])
    title = _one_line(_pdf_string(match.group(1)), 500) if match else ""
    return Page(title=title, note="a PDF: its text is not kept, only its title and address")


__all__ = ["NOISE", "PDF_TYPE", "Page", "decode", "html_page", "page_of", "pdf_page", "printable", "readable_html", "text_of"]
