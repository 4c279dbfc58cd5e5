"""WebFinger (RFC 7033): from ``@user@host`` to the actor id, the way Mastodon looks accounts up.

Both clients run the same attempts (``webfinger_attempts``) and read the answer with ``actor_from_jrd``;
only the waiting differs.
"""
from __future__ import annotations

import httpx

from ...hosts import InvalidHost, normalise_host
from .documents import AP_CONTENT_TYPE, AS_PROFILE, Fetched, media_type, parse_json_object
from .errors import BadDocument, BadURL
from .policy import FetchPolicy

JRD_ACCEPT = "application/jrd+json, application/json"
JRD_CONTENT_TYPES = frozenset({"application/jrd+json", "application/json"})


def parse_handle(handle: str) -> tuple[str, str]:
    """``@user@host``, ``user@host`` or ``acct:user@host`` -> (user, host[:port]); the host in the ASCII form
    browsers use (UTS #46, so ``@a@faß.de`` is looked up at ``xn--fa-hia.de``, never at ``fass.de``)."""
    text = handle.strip().removeprefix("acct:").lstrip("@")
    user, sep, host = text.rpartition("@")
    if not sep or not user or not host or any(c in text for c in "/?#\\ \t\r\n") or "@" in user:
        raise BadURL(f"not a handle: {handle!r}")
    name, colon, port = host.rpartition(":") if not host.endswith("]") else (host, "", "")
    if not colon or not port.isdigit():
        name, colon, port = host, "", ""
    try:
        return user, normalise_host(name) + colon + port
    except InvalidHost as exc:
        raise BadURL(f"not a handle: {handle!r} ({exc})") from None


def webfinger_url(user: str, host: str, scheme: str) -> httpx.URL:
    """``/.well-known/webfinger?resource=acct:user@host`` on that host."""
    return httpx.URL(f"{scheme}://{host}/.well-known/webfinger", params={"resource": f"acct:{user}@{host}"})


def actor_from_jrd(fetched: Fetched) -> str:
    """The ``self`` link with an ActivityPub type; anything else in the JRD is ignored."""
    jrd = parse_json_object(fetched)
    links = jrd.get("links")
    for link in links if isinstance(links, list) else []:
        if not isinstance(link, dict) or link.get("rel") != "self":
            continue
        kind = str(link.get("type", ""))
        href = link.get("href")
        ap_type = media_type(kind) == AP_CONTENT_TYPE or (
            media_type(kind) == "application/ld+json" and AS_PROFILE in kind)
        if ap_type and isinstance(href, str) and href:
            return href
    raise BadDocument(f"{fetched.url} has no ActivityPub self link")


def webfinger_attempts(handle: str, policy: FetchPolicy) -> list[tuple[str, bool]]:
    """The WebFinger URLs to try, in order, each with whether it is the last one. In allow mode a host
    without TLS is retried over http (a connection failure on any earlier attempt moves on)."""
    user, host = parse_handle(handle)
    schemes = ("https", "http") if policy.allow_private_addresses else ("https",)
    return [(str(webfinger_url(user, host, scheme)), scheme == schemes[-1]) for scheme in schemes]


__all__ = ["JRD_ACCEPT", "JRD_CONTENT_TYPES", "actor_from_jrd", "parse_handle", "webfinger_attempts", "webfinger_url"]
