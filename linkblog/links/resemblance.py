"""Does a page still say what it said? Page text, a compact fingerprint of it, and a resemblance score.

The text is compared as sets of word 3-shingles (every run of three words): two texts' resemblance is
the Jaccard index of their shingle sets, 1.0 for the same words in the same order, near 0 for unrelated
pages. Small edits, a new footer or a date keep it high; a parked domain, a "this page has moved" notice
or a different article bring it below ``[links] changed_resemblance`` (20 % by default).

The reference is kept compact: a bottom-k sketch (the ``SKETCH_SIZE`` smallest 32-bit hashes of the
shingle set, about 1 KB as hex) whose overlap estimates the Jaccard index of the full sets (Broder's
min-hash). ``resemblance`` takes texts or fingerprints on either side, so a saved copy's text (from
``links.copies``) can stand in for the stored fingerprint as the reference.

Pure and dependency-free: no network, no database, no parser beyond the standard library's.
"""
from __future__ import annotations

import hashlib
import re
from html.parser import HTMLParser

SHINGLE_WORDS = 3
SKETCH_SIZE = 128
MIN_WORDS = 25          # fewer words than this and a text cannot be judged (too little to compare)
MAX_TEXT_CHARS = 200_000
_WORD = re.compile(r"\w+", re.UNICODE)
_SKIPPED = frozenset({"script", "style", "noscript", "template", "svg", "head", "nav", "footer", "form", "iframe"})
_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track",
                   "wbr"})
TEXT_TYPES = frozenset({"text/html", "application/xhtml+xml", "text/plain"})


class _Text(HTMLParser):
    """The visible words of a page, leaving out scripts, styles, navigation and footers (boilerplate
    that changes without the page's meaning changing)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.size = 0
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self.skipping += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        pass   # <br/>, <svg/>: nothing opens

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED and self.skipping:
            self.skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self.skipping and self.size < MAX_TEXT_CHARS:
            self.parts.append(data)
            self.size += len(data)


def page_text(body: bytes, content_type: str = "text/html") -> str:
    """The words of a fetched page (HTML or plain text), at most ``MAX_TEXT_CHARS``; the charset is the
    declared one, else UTF-8, undecodable bytes replaced."""
    charset = "utf-8"
    match = re.search(r"charset=([\w-]+)", content_type or "", re.I)
    if match:
        charset = match.group(1)
    try:
        decoded = body.decode(charset, errors="replace")
    except LookupError:
        decoded = body.decode("utf-8", errors="replace")
    if "html" not in (content_type or "html").lower():
        return " ".join(decoded[:MAX_TEXT_CHARS].split())
    parser = _Text()
    try:
        parser.feed(decoded)
        parser.close()
    except (AssertionError, ValueError):   # HTMLParser gives up on some broken markup: keep what it read
        pass
    return " ".join(" ".join(parser.parts).split())


def words(text: str) -> list[str]:
    return [w.casefold() for w in _WORD.findall(text[:MAX_TEXT_CHARS])]


def _hashes(text: str) -> set[int]:
    found = words(text)
    grams = (" ".join(found[i:i + SHINGLE_WORDS]) for i in range(max(1, len(found) - SHINGLE_WORDS + 1)))
    return {int.from_bytes(hashlib.blake2b(g.encode(), digest_size=4).digest(), "big") for g in grams if g}


def fingerprint(text: str) -> str:
    """The sketch of ``text`` (empty when it has fewer than ``MIN_WORDS`` words: nothing to judge by)."""
    if len(words(text)) < MIN_WORDS:
        return ""
    return " ".join(f"{h:08x}" for h in sorted(_hashes(text))[:SKETCH_SIZE])


def _sketch(text_or_fingerprint: str, is_fingerprint: bool) -> list[int]:
    if is_fingerprint:
        return [int(h, 16) for h in text_or_fingerprint.split()]
    return sorted(_hashes(text_or_fingerprint))[:SKETCH_SIZE] if len(words(text_or_fingerprint)) >= MIN_WORDS else []


def resemblance(now: str, reference: str, *, reference_is_fingerprint: bool = True) -> float | None:
    """How much the text ``now`` resembles ``reference`` (a fingerprint, or with
    ``reference_is_fingerprint=False`` a text such as a saved copy's), 0.0 .. 1.0; None when either side is
    too short to judge. Estimated from the two bottom-k sketches: of the k smallest hashes of their union,
    the share found in both."""
    ours, theirs = _sketch(now, False), _sketch(reference, reference_is_fingerprint)
    if not ours or not theirs:
        return None
    a, b = set(ours), set(theirs)
    union = sorted(a | b)[:min(SKETCH_SIZE, len(a | b))]
    return sum(1 for h in union if h in a and h in b) / len(union)


__all__ = ["MIN_WORDS", "SKETCH_SIZE", "TEXT_TYPES", "fingerprint", "page_text", "resemblance", "words"]
