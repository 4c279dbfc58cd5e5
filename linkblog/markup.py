"""Markdown rendering and sanitising; done once at save time so pages only print stored HTML."""
from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import quote


ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "del", "em", "h2", "h3", "h4", "h5", "h6", "hr", "i",
    "li", "ol", "p", "pre", "s", "strong", "sub", "sup", "table", "tbody", "td", "th", "thead", "tr", "ul",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "abbr": {"title"}, "td": {"align"}, "th": {"align"}}


@lru_cache(maxsize=1)
def _markdown():  # noqa: ANN202
    # Imported here: readers' requests never render Markdown (HTML is stored at save time), so web
    # workers that only serve pages do not pay the memory for the parser and sanitiser.
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")


def render_markdown(text: str) -> str:
    """Owner Markdown to safe HTML: raw HTML is escaped, then nh3 removes anything still unsafe."""
    if not text.strip():
        return ""
    html = _markdown().render(text)
    # Headings inside an item never outrank (nor equal) the items' titles (h2 in lists, h1 on a permalink).
    html = _HEADING.sub(lambda m: f"<{m[1]}h{min(6, max(3, int(m[2]) + 1))}>", html)
    return sanitise_html(_IMAGE.sub(_image, html), images=True)


_HEADING = re.compile(r"<(/?)h([1-6])>")
_IMAGE = re.compile(r"<img\b([^>]*)>")
_ATTRIBUTE = re.compile(r'([a-z]+)="([^"]*)"')


def _image(match: re.Match[str]) -> str:
    """An https image is shown (the CSP allows https images), without telling its host where it was seen; any
    other keeps its alt text in place, so nothing vanishes silently."""
    attributes = dict(_ATTRIBUTE.findall(match.group(1)))
    src, alt = attributes.get("src", ""), attributes.get("alt", "")  # already HTML-escaped by markdown-it
    if src.startswith("https://"):
        title = f' title="{attributes["title"]}"' if "title" in attributes else ""
        return f'<img src="{src}" alt="{alt}"{title} loading="lazy" referrerpolicy="no-referrer">'
    return f"<em>[{alt or 'image'}]</em>"


def sanitise_html(html: str, images: bool = False) -> str:
    """Safe HTML; ``images`` keeps ``<img>`` (the owner's own Markdown, never another server's HTML)."""
    import nh3

    tags, attributes = ALLOWED_TAGS, ALLOWED_ATTRIBUTES
    if images:
        tags, attributes = tags | {"img"}, {**attributes, "img": {"src", "alt", "title", "loading", "referrerpolicy"}}
    return nh3.clean(html, tags=tags, attributes=attributes,
                     url_schemes={"http", "https", "mailto"}, link_rel="noopener nofollow ugc")


def excerpt(html: str, limit: int = 300) -> str:
    """For lists: "" when the stored HTML's text fits in ``limit`` characters, else its text cut at a word
    (the list then links to the permalink to read the rest)."""
    from html import unescape

    text = " ".join(unescape(re.sub(r"<[^>]+>", " ", html or "")).split())
    if len(text) <= limit:
        return ""
    cut = text[:limit].rsplit(" ", 1)[0] if " " in text[:limit] else text[:limit]
    return cut.rstrip(" ,;:.") + "…"


# --- HTML from strangers ----------------------------------------------------------------------------------
# Parsers are not linear on every input: Python's html.parser is quadratic on unclosed tags (``<a <a <a``),
# and html5ever (under nh3) on deep nesting, on tags with thousands of attributes and on re-opening
# thousands of distinct formatting elements. So remote HTML is cut to a number of characters and tags
# before any parser sees it, and formatting tags lose their attributes (which no sanitised page keeps),
# so that identical ones collapse (the HTML spec's "Noah's Ark" clause keeps at most three of each).

REMOTE_HTML_CHARS = 20_000
REMOTE_HTML_TAGS = 1_000
_TAG_START = re.compile(r"<[A-Za-z/!?]")
_FORMATTING = re.compile(r"<(b|big|code|em|font|i|nobr|s|small|strike|strong|tt|u)(?=[\t\n\f\r />])[^>]*>?",
                         re.IGNORECASE)
FORMATTING_TAGS = frozenset({"b", "big", "code", "em", "font", "i", "nobr", "s", "small", "strike", "strong", "tt",
                             "u"})


def cut_html(html: str, max_chars: int = REMOTE_HTML_CHARS, max_tags: int = REMOTE_HTML_TAGS) -> str:
    """The start of a remote HTML fragment: at most ``max_chars`` characters, ended before its
    ``max_tags + 1``-th tag (anything starting ``<`` + letter, ``/``, ``!`` or ``?``). Linear, no parser."""
    html = html[:max_chars]
    for count, match in enumerate(_TAG_START.finditer(html)):
        if count >= max_tags:
            return html[:match.start()]
    return html


def tame_html(html: str, max_chars: int = REMOTE_HTML_CHARS, max_tags: int = REMOTE_HTML_TAGS) -> str:
    """Remote HTML made cheap to parse: cut (``cut_html``), formatting tags without attributes."""
    return _FORMATTING.sub(r"<\1>", cut_html(html, max_chars, max_tags))


def sanitise_remote(html: str, max_chars: int = REMOTE_HTML_CHARS, max_tags: int = REMOTE_HTML_TAGS) -> str:
    """Another server's HTML, tamed then sanitised: what we store and show of a reply or a post."""
    return sanitise_html(tame_html(html, max_chars, max_tags))


_ANY_HEADING = re.compile(r"<(/?)h([1-6])(?=[\s>/])", re.I)


def sanitise_copy(html: str, max_chars: int = 1_000_000, max_tags: int = 50_000) -> str:
    """A saved page's readable HTML (trafilatura's output): tamed, headings moved one level down (the copy's page
    has its own h1), sanitised like any remote HTML: text, headings, lists, tables, quotes and links; no images,
    scripts, styles, frames or event handlers, so nothing remote is loaded when the copy is read."""
    html = _ANY_HEADING.sub(lambda m: f"<{m[1]}h{min(6, int(m[2]) + 1)}", tame_html(html, max_chars, max_tags))
    return sanitise_html(html)


def scannable_html(html: str, max_chars: int = REMOTE_HTML_CHARS, max_tags: int = REMOTE_HTML_TAGS) -> str:
    """Another server's HTML, tamed, parsed once by nh3 and written back well-formed, keeping what link
    extraction reads (``href``, ``class``, ``rel``) and dropping formatting tags: a Python parser then
    reads it in linear time (every tag is complete, every ``<`` in text escaped)."""
    import nh3

    tags = (set(nh3.ALLOWED_TAGS) | {"a", "span", "p", "div"}) - FORMATTING_TAGS
    return nh3.clean(tame_html(html, max_chars, max_tags), tags=tags,
                     attributes={"*": {"class"}, "a": {"href", "class", "rel"}}, link_rel=None)


def first_line(text: str, limit: int = 200) -> str:
    """First non-empty line of Markdown as plain text, for summaries."""
    for line in text.splitlines():
        line = line.strip().lstrip("#>*-+ ").strip()
        if line:
            return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"
    return ""


_FIRST_BLOCK = re.compile(r"<(p|li)>(.*?)</\1>", re.S)


def first_text(html: str, limit: int = 200) -> str:
    """The first paragraph or list item of stored (sanitised) HTML as plain text, for an index line."""
    from html import unescape

    match = _FIRST_BLOCK.search(html or "")
    if not match:
        return ""
    text = " ".join(unescape(re.sub(r"<[^>]+>", "", match.group(2))).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def text_fragment_url(url: str, quote_text: str) -> str:
    """Link to the quoted words with a text fragment (``#:~:text=``) so readers land on them."""
    words = " ".join(quote_text.split())
    if not words:
        return url
    encode = lambda s: quote(s, safe="")  # noqa: E731  ('-', '&' and ',' must be escaped too)
    encode_all = lambda s: encode(s).replace("-", "%2D")  # noqa: E731
    tokens = words.split(" ")
    if len(tokens) > 8:
        fragment = f"{encode_all(' '.join(tokens[:4]))},{encode_all(' '.join(tokens[-4:]))}"
    else:
        fragment = encode_all(words)
    return f"{url.split('#', 1)[0]}#:~:text={fragment}"
