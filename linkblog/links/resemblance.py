"""Does a page still say what it said? Page text, a compact fingerprint of it, and a resemblance score.

The text is compared as sets of word 3-shingles (every run of three words): two texts' resemblance is
the Jaccard index of their shingle sets, 1.0 for the same words in the same order, near 0 for unrelated
pages. Small edits, a new footer or a date keep it high; a parked domain, a "this page has moved" notice
or a different article bring it below ``[links] changed_resemblance`` (20 % by default).

The reference is kept compact: a bottom-k sketch (the ``SKETCH_SIZE`` smallest 32-bit hashes of the
shingle set, about 1 KB as hex) whose overlap estimates the Jaccard index of the full sets (Broder's
min-hash). ``resemblance`` takes texts or fingerprints on either side, so a saved copy's text (from
``links.copies``) can stand in for the stored fingerprint as the reference.

Hashing every shingle is most of a link check's CPU, so each distinct *word* is hashed once (BLAKE2b, 56
bits) and a shingle's hash is the hash of its three word hashes as a tuple: CPython's tuple hash (xxHash's
mixing, fixed since Python 3.8 and the same in every process: integers are not salted like strings), done
in C. Where ``hash`` of a tuple is not that function (another interpreter or a 32-bit build), the same
arithmetic runs in Python (``_xxtuple``), so a fingerprint means the same everywhere. Such fingerprints
start with ``v2``; those stored before (bare hex, one BLAKE2b per joined shingle, about four times the
CPU) are still compared the way they were made.

Pure and dependency-free: no network, no database, no parser beyond a regular expression.
"""
from __future__ import annotations

import hashlib
import re
from html import unescape

SHINGLE_WORDS = 3
SKETCH_SIZE = 128
MIN_WORDS = 25          # fewer words than this and a text cannot be judged (too little to compare)
MAX_TEXT_CHARS = 200_000
_WORD = re.compile(r"\w+", re.UNICODE)
_SKIPPED = frozenset({"script", "style", "noscript", "template", "svg", "head", "nav", "footer", "form", "iframe"})
TEXT_TYPES = frozenset({"text/html", "application/xhtml+xml", "text/plain"})


_TOKEN = re.compile(r"<!--.*?(?:-->|\Z)|<[!?][^>]*>?|<(/?)([a-zA-Z][^\s/>]*)([^>]*)>?", re.S)
# Only what decides what is left out: comments, declarations and the skipped elements' own tags.
_MARKS = re.compile(r"<!--.*?(?:-->|\Z)|<[!?][^>]*>?|<(/?)(" + "|".join(sorted(_SKIPPED))
                    + r")(?=[\s/>]|\Z)([^>]*)>?", re.S | re.I)
_RAW = frozenset({"script", "style"})      # their content is not markup: skipped to their end tag
_RAW_END = {name: re.compile(f"</{name}", re.I) for name in _RAW}


def _visible(html: str) -> str:
    """The visible words of a page, leaving out scripts, styles, navigation and footers (boilerplate that
    changes without the page's meaning changing), comments and declarations.

    Regular expressions rather than ``html.parser``, which spends several milliseconds per page on attributes
    nobody reads, and only the tags that open or close a left-out region are looked at one by one in Python
    (a few dozen on a typical page); every other tag is then removed in one pass of ``_TOKEN`` in C. The
    rules are the parser's: a skipped element's start tag opens a skipped region and its end tag closes one,
    a self-closing tag opens nothing, and script and style content is raw text up to its end tag."""
    parts: list[str] = []
    skipping = pos = 0
    while (match := _MARKS.search(html, pos)) is not None:
        if match.start() > pos and not skipping:
            parts.append(html[pos:match.start()])
        pos = match.end()
        name = match.group(2)
        if name is None:
            continue
        name = name.lower()
        if match.group(1):
            if skipping:
                skipping -= 1
        elif not match.group(3).endswith("/"):
            skipping += 1
            if name in _RAW:
                end = _RAW_END[name].search(html, pos)
                pos = len(html) if end is None else end.start()
    if not skipping:
        parts.append(html[pos:])
    return unescape(_TOKEN.sub(" ", " ".join(parts))[:MAX_TEXT_CHARS])


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
    return " ".join(_visible(decoded).split())


# ASCII bytes that are not word characters (``\w``: letters, digits, underscore) become spaces; bytes of
# UTF-8 sequences (0x80 and up) are kept, and the few words holding them are split again by ``_WORD``.
_ASCII_WORDS = bytes(c if c >= 0x80 or c == 0x5F or chr(c).isalnum() else 0x20 for c in range(256))


def words(text: str) -> list[bytes]:
    """The casefolded words of ``text`` (runs of word characters), UTF-8 encoded. Split in C for the ASCII part: the
    regular expression alone costs four times as much on a long article."""
    folded = text[:MAX_TEXT_CHARS].casefold()
    found = folded.encode().translate(_ASCII_WORDS).split()
    if folded.isascii():
        return found
    split: list[bytes] = []
    for word in found:
        if word.isascii():
            split.append(word)
        else:
            split.extend(w.encode() for w in _WORD.findall(word.decode()))
    return split


VERSION = "v2"
_M64 = (1 << 64) - 1
_XXPRIME_1, _XXPRIME_2, _XXPRIME_5 = 11400714785074694791, 14029467366897019727, 2870177450012600261


def _xxtuple(lanes: tuple[int, ...]) -> int:
    """CPython's (3.8+, 64-bit) ``hash`` of a tuple of integers below 2**61 - 1, which hash to themselves."""
    acc = _XXPRIME_5
    for lane in lanes:
        acc = (acc + lane * _XXPRIME_2) & _M64
        acc = ((acc << 31) | (acc >> 33)) & _M64
        acc = (acc * _XXPRIME_1) & _M64
    acc = (acc + (len(lanes) ^ (_XXPRIME_5 ^ 3527539))) & _M64
    if acc == _M64:
        return 1546275796
    return acc - (1 << 64) if acc >> 63 else acc


_TUPLE_HASH = hash if hash((1, 2, 3)) == _xxtuple((1, 2, 3)) == 529344067295497451 else _xxtuple


def _smallest_shingle_hashes(found: list[bytes]) -> list[int]:
    """The ``SKETCH_SIZE`` smallest 32-bit hashes of the distinct word 3-shingles of ``found``, in order, as
    the top halves of their signed 64-bit tuple hashes (an order-keeping map). Only the hashes below a cut
    that about three times the wanted number fall under are sorted (they are uniform), all of them when too
    few do."""
    blake2b = hashlib.blake2b
    ids = {w: int.from_bytes(blake2b(w, digest_size=7).digest(), "little") for w in set(found)}
    lanes = list(map(ids.__getitem__, found))
    if len(lanes) < SHINGLE_WORDS:
        full = {_TUPLE_HASH(tuple(lanes))}
    else:
        full = set(map(_TUPLE_HASH, zip(*(lanes[i:] for i in range(SHINGLE_WORDS)))))
    wanted = SKETCH_SIZE + 8                            # a few spare: two hashes may share their top half
    if len(full) > 3 * wanted:
        cut = -(1 << 63) + (3 * wanted << 64) // len(full)
        below = [h for h in full if h < cut]
        smallest = sorted(below if len(below) >= wanted else full)[:wanted]
    else:
        smallest = sorted(full)[:wanted]
    return list(dict.fromkeys(h >> 32 for h in smallest))[:SKETCH_SIZE]


def _legacy_hashes(text: str) -> set[str]:
    """The hashes of fingerprints stored before ``VERSION``: each word casefolded alone, one BLAKE2b per
    joined shingle, as 8 hex digits."""
    found = [w.casefold() for w in _WORD.findall(text[:MAX_TEXT_CHARS])]
    if len(found) < MIN_WORDS:
        return set()
    if len(found) < SHINGLE_WORDS:
        grams = {" ".join(found)}
    else:
        grams = set(map(" ".join, zip(*(found[i:] for i in range(SHINGLE_WORDS)))))
    grams.discard("")
    blake2b = hashlib.blake2b
    return {blake2b(g.encode(), digest_size=4).hexdigest() for g in grams}


def _bottom(text: str, legacy: bool = False) -> list[str]:
    """The sketch of ``text``: its ``SKETCH_SIZE`` smallest shingle hashes as 8 hex digits, in order (empty
    when it has fewer than ``MIN_WORDS`` words: nothing to judge by)."""
    if legacy:
        return sorted(_legacy_hashes(text))[:SKETCH_SIZE]
    found = words(text)
    if len(found) < MIN_WORDS:
        return []
    return [f"{h + (1 << 31):08x}" for h in _smallest_shingle_hashes(found)]


def fingerprint(text: str) -> str:
    """The sketch of ``text``, marked with its ``VERSION`` ("" when the text is too short to judge)."""
    sketch = _bottom(text)
    return " ".join([VERSION, *sketch]) if sketch else ""


def _sketch(text_or_fingerprint: str, is_fingerprint: bool, legacy: bool = False) -> list[str]:
    if is_fingerprint:
        parts = text_or_fingerprint.lower().split()
        return parts[1:] if parts[:1] == [VERSION] else parts
    return _bottom(text_or_fingerprint, legacy)


def resemblance(now: str, reference: str, *, reference_is_fingerprint: bool = True,
                now_fingerprint: str = "") -> float | None:
    """How much the text ``now`` resembles ``reference`` (a fingerprint, or with
    ``reference_is_fingerprint=False`` a text such as a saved copy's), 0.0 .. 1.0; None when either side is
    too short to judge. Estimated from the two bottom-k sketches: of the k smallest hashes of their union,
    the share found in both. ``now_fingerprint``: ``fingerprint(now)`` when the caller made it already (a
    first check stores it too), so the text is not hashed twice; unused against an older release's reference."""
    legacy = reference_is_fingerprint and bool(reference) and not reference.startswith(VERSION)
    ours = _sketch(now_fingerprint, True) if now_fingerprint and not legacy else _sketch(now, False, legacy)
    theirs = _sketch(reference, reference_is_fingerprint)
    if not ours or not theirs:
        return None
    a, b = set(ours), set(theirs)
    union = sorted(a | b)[:min(SKETCH_SIZE, len(a | b))]
    return sum(1 for h in union if h in a and h in b) / len(union)


__all__ = ["MIN_WORDS", "SKETCH_SIZE", "TEXT_TYPES", "VERSION", "fingerprint", "page_text", "resemblance", "words"]
