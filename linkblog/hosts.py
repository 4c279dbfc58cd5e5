"""Host names the way browsers read them, and shown the way they cannot be spoofed.

**Normalising** (``normalise_host``): UTS #46 mapping, non-transitional (as the WHATWG URL standard and every
current browser do), then the IDNA 2008 label rules of the ``idna`` package. So ``faß.de`` stays ``faß.de``
(``xn--fa-hia.de``, its own registrant) instead of IDNA 2003's ``fass.de``, full-width letters are folded
(``ＥＸＡＭＰＬＥ.com`` is ``example.com``), and a joiner where no script needs one (``a\\u200db.example``) is an
error rather than silently dropped (which would merge it with ``ab.example``). Labels that are plain ASCII are
only lower-cased (browsers accept ``my_host.example``); an ASCII label starting ``xn--`` must be a valid,
canonical A-label. Never use Python's ``"idna"`` codec (or hand a non-ASCII name to ``socket``): it is IDNA 2003.

**Showing** (``display_host``): a host is shown in Unicode only when every label passes all of these rules,
otherwise the whole host is shown as ASCII (punycode), as browsers do:

1. it normalises (above) and its A-labels decode;
2. its letters come from one script, or from Latin with Han and Japanese kana, Latin with Han and Bopomofo, or
   Latin with Han and Hangul (UTS #39 "highly restrictive"); ASCII digits, the hyphen and combining marks go
   with any script;
3. it is not made only of Cyrillic or Greek letters that look like Latin ones (``аррӏе``, a whole-script
   confusable of ``apple``), nor contains a Latin lookalike letter such as the dotless ``ı`` or ``ɑ``;
4. it contains no invisible joiner (U+200C, U+200D).
"""
from __future__ import annotations

import ipaddress
import unicodedata
from urllib.parse import urlsplit, urlunsplit


ZERO_WIDTH_JOINERS = frozenset("\u200c\u200d")
# Chrome's list of Cyrillic letters that look like Latin ones (idn_spoof_checker.cc), and the Greek ones.
LATIN_LOOKALIKES_CYRILLIC = frozenset("асԁеһіјӏорԛѕԝхуъьҽпгѵѡ")
LATIN_LOOKALIKES_GREEK = frozenset("αικνορτυχ")
# Latin letters (beyond ASCII) that pass for plain ASCII ones at a glance.
LATIN_LOOKALIKES = frozenset("ıɑɡɩɪʟɒɢʀʏꞵƅᴀᴄᴅᴇᴊᴋᴍᴏᴘᴛᴜᴠᴡᴢſ")
HAN = "HAN"
# Scripts that may share a label (besides one script alone): UTS #39 "highly restrictive".
ALLOWED_MIXES = (frozenset({"LATIN", HAN, "HIRAGANA", "KATAKANA"}), frozenset({"LATIN", HAN, "BOPOMOFO"}),
                 frozenset({"LATIN", HAN, "HANGUL"}))
NEUTRAL = "COMMON"  # ASCII digits, the hyphen, combining marks and marks shared by scripts


class InvalidHost(ValueError):
    """The host name cannot be used; the message says what is wrong with it."""


def is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _checked_a_label(label: str) -> str:
    import idna  # only for international names: its tables cost every process ~1 MB

    try:
        unicode_label = idna.ulabel(label)
        if idna.alabel(unicode_label).decode("ascii") != label:
            raise idna.IDNAError("not the canonical form")
    except (idna.IDNAError, UnicodeError) as exc:
        raise InvalidHost(f"the label {label!r} is not a valid international domain name label ({exc})") from None
    return label


def normalise_host(host: str) -> str:
    """The host as browsers send it: ASCII, lower case, UTS #46 non-transitional. IP literals are only
    lower-cased. Raises ``InvalidHost`` with the reason."""
    if not host:
        raise InvalidHost("the host name is empty")
    if is_ip_literal(host):
        return host.lower()
    if host.isascii():
        lowered = host.lower()
        if "" in lowered.split(".")[:-1]:
            raise InvalidHost(f"{host!r} has an empty label (two dots in a row, or a leading dot)")
        for label in lowered.split("."):
            if label.startswith("xn--"):
                _checked_a_label(label)
        return lowered
    import idna  # only for international names: its tables cost every process ~1 MB

    try:
        mapped = idna.uts46_remap(host, std3_rules=False)  # non-transitional: idna's only mode
        labels = [label.lower() if label.isascii() else idna.alabel(label).decode("ascii")
                  for label in mapped.split(".")]
    except (idna.IDNAError, UnicodeError) as exc:
        raise InvalidHost(f"{host!r} is not a valid international domain name ({exc})") from None
    if "" in labels[:-1]:
        raise InvalidHost(f"{host!r} has an empty label (two dots in a row, or a leading dot)")
    for label in labels:
        if label.startswith("xn--"):
            _checked_a_label(label)
    result = ".".join(labels)
    if len(result.rstrip(".")) > 253:
        raise InvalidHost(f"{host!r} is longer than 253 characters once encoded")
    return result


def ascii_host_url(url: str) -> str:
    """``url`` with its host normalised (``normalise_host``) when it is an international name or holds an
    A-label; any other URL is returned as it is. Raises ``InvalidHost``; a URL that does not even split
    (a bad port) raises ``ValueError``."""
    parts = urlsplit(url)
    host = parts.hostname
    if not host or (host.isascii() and "xn--" not in host):
        return url
    ascii_host = normalise_host(host)
    if ":" in ascii_host:
        ascii_host = f"[{ascii_host}]"
    userinfo = parts.netloc.rpartition("@")[0]
    port = parts.port
    netloc = (f"{userinfo}@" if userinfo else "") + ascii_host + (f":{port}" if port is not None else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _script(char: str) -> str:
    """The script of one character, from its Unicode name (the standard library has no script property)."""
    if char.isascii():
        return "LATIN" if char.isalpha() else NEUTRAL
    if unicodedata.category(char).startswith("M") or unicodedata.category(char) == "Cf":
        return NEUTRAL  # marks go with their letter; joiners (format characters) have their own rule
    name = unicodedata.name(char, "")
    if name.startswith(("CJK ", "IDEOGRAPHIC ")):
        return HAN
    if name.startswith("KATAKANA-HIRAGANA"):
        return "KATAKANA"
    if name.startswith("EXTENDED ARABIC-INDIC"):
        return "ARABIC"
    return name.split(" ", 1)[0].split("-", 1)[0] or "UNKNOWN"


def _safe_label(label: str) -> bool:
    if ZERO_WIDTH_JOINERS & set(label) or LATIN_LOOKALIKES & set(label):
        return False
    scripts = {_script(c) for c in label} - {NEUTRAL}
    if len(scripts) > 1 and not any(scripts <= mix for mix in ALLOWED_MIXES):
        return False
    letters = {c for c in label if c.isalpha()}
    if letters and (letters <= LATIN_LOOKALIKES_CYRILLIC or letters <= LATIN_LOOKALIKES_GREEK):
        return False
    return True


def display_host(host: str) -> str:
    """How to show a host (from another server) to a person: Unicode when every label is safe to read (the
    rules above), else the ASCII form; a host that does not even normalise is shown with its non-ASCII
    characters escaped, so nothing in it can pass for something else."""
    try:
        ascii_host = normalise_host(host)
    except InvalidHost:
        return host.encode("ascii", "backslashreplace").decode("ascii")
    if is_ip_literal(ascii_host) or "xn--" not in ascii_host:
        return ascii_host
    import idna  # only for international names: its tables cost every process ~1 MB

    try:
        labels = [idna.ulabel(label) if label.startswith("xn--") else label for label in ascii_host.split(".")]
    except (idna.IDNAError, UnicodeError):
        return ascii_host
    return ".".join(labels) if all(_safe_label(label) for label in labels) else ascii_host


__all__ = ["InvalidHost", "ascii_host_url", "display_host", "is_ip_literal", "normalise_host"]
