"""URL normalisation so the same page saved twice is recognised as one bookmark, and the checks every
reader of a remote URL shares (is it an http(s) URL we can store, which host is it on)."""
from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from . import hosts
from .models import URL_MAX

DEFAULT_PORTS = {"http": 80, "https": 443}
TRACKING_PARAMS = frozenset({
    "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "mc_cid", "mc_eid", "igshid", "yclid",
    "_hsenc", "_hsmi", "mkt_tok", "oly_anon_id", "oly_enc_id", "vero_id", "ref_src", "ref_url", "si",
})
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_")
_SPACE_OR_CONTROL = re.compile(r"[\x00-\x1f\s]")


class InvalidURL(ValueError):
    """The text cannot be saved as a link; the message says why."""


def normalise_url(raw: str) -> str:
    """Lower-case scheme and host, drop default port, fragment and tracking parameters."""
    text = (raw or "").strip()
    if not text:
        raise InvalidURL("Enter the address of the page, starting with http:// or https://.")
    if _SPACE_OR_CONTROL.search(text):
        raise InvalidURL("The address contains spaces or control characters.")
    if len(text) > URL_MAX:
        raise InvalidURL(f"The address is longer than {URL_MAX} characters.")
    if "://" not in text and re.match(r"^[\w.-]+\.[a-z]{2,}(:\d+)?([/?#]|$)", text, re.I):
        text = "https://" + text  # "example.org/page" typed or pasted without a scheme
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise InvalidURL("The address is not a valid URL (check the host and port).") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise InvalidURL("Only http:// and https:// addresses can be saved.")
    host = (parts.hostname or "").rstrip(".")
    if not host or host.startswith(".") or ".." in host:
        raise InvalidURL("The address has no valid host name.")
    try:
        host = hosts.normalise_host(host)  # UTS #46 non-transitional, as browsers (never IDNA 2003)
    except hosts.InvalidHost as exc:
        raise InvalidURL(f"The host name is not valid: {exc}. Check the address for typing errors or "
                         "invisible characters.") from None
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    if parts.username or parts.password:
        raise InvalidURL("Addresses with a user name or password in them are not saved.")
    path = quote(parts.path or "/", safe="/%:@!$&'()*+,;=~-._")
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if k.lower() not in TRACKING_PARAMS and not k.lower().startswith(TRACKING_PREFIXES)]
    normalised = urlunsplit((scheme, netloc, path, urlencode(query, doseq=True), ""))
    if len(normalised) > URL_MAX:
        raise InvalidURL(f"The address is longer than {URL_MAX} characters.")
    return normalised


def display_host(url: str) -> str:
    """The host of ``url`` for people to read (without ``www.``): Unicode only where it cannot pass for another
    host, else punycode (the rules are in :mod:`linkblog.hosts`)."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return ""
    return hosts.display_host(host).removeprefix("www.")


def is_http_url(url: Any) -> bool:
    """An absolute http(s) URL, of any length. Only ``federation.reading.first_link`` uses this: it reports
    what a post links to whatever its length, and the callers that store the link check it with
    :func:`is_web`."""
    if not isinstance(url, str):
        return False
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def is_web(url: Any) -> bool:
    """An absolute http(s) URL short enough for our columns: the check for anything we store or fetch."""
    if not isinstance(url, str) or len(url) > URL_MAX:
        return False
    return is_http_url(url)


def host_of(url: Any) -> str:
    """The URL's host (with its port, if any), lower-cased and, when it is an international name, in the ASCII
    form browsers use (UTS #46), so ``faß.de`` and ``xn--fa-hia.de`` are one host; "" for anything that is not
    a string. A name that does not normalise is returned lower-cased as it is (it still differs from others)."""
    if not isinstance(url, str):
        return ""
    netloc = urlsplit(url).netloc.lower()
    if netloc.isascii():
        return netloc
    host, colon, port = netloc.rpartition(":") if not netloc.endswith("]") else (netloc, "", "")
    if not colon or not port.isdigit():
        host, colon, port = netloc, "", ""
    try:
        return hosts.normalise_host(host) + colon + port
    except hosts.InvalidHost:
        return netloc



_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_TLD = re.compile(r"^(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$")


def server_name(text: str) -> str | None:
    """The fediverse server a reader typed, as a bare host name: ``mastodon.social``, ``https://mastodon.social/``,
    ``@me@mastodon.social`` and ``me@mastodon.social`` all give ``mastodon.social``. None for anything that is
    not a public DNS name (IP addresses, ports, paths, user info, single labels such as ``localhost``), so
    what is built from it can only ever point at ``https://<that host>/``."""
    text = (text or "").strip().lower()
    if not text or len(text) > 300 or _SPACE_OR_CONTROL.search(text):
        return None
    if text.startswith("https://"):
        text = text[len("https://"):]
        text = text[:-1] if text.endswith("/") else text
    elif "@" in text:
        parts = text.lstrip("@").split("@")
        if len(parts) != 2 or not parts[0] or not re.fullmatch(r"[a-z0-9_.-]+", parts[0]):
            return None
        text = parts[1]
    text = text.rstrip(".")
    try:
        host = hosts.normalise_host(text) if not text.isascii() else text
    except hosts.InvalidHost:
        return None
    labels = host.split(".")
    if len(host) > 253 or len(labels) < 2 or not all(_LABEL.match(label) for label in labels) \
            or not _TLD.match(labels[-1]):
        return None
    return host
