"""WebFinger (RFC 7033): from ``@user@host`` to the actor id, the way Mastodon looks accounts up.

Both clients run the same attempts (``webfinger_attempts``) and read the answer with ``actor_from_jrd``;
only the waiting differs.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

import httpx

from ...hosts import InvalidHost, normalise_host
from .documents import AP_CONTENT_TYPE, AS_PROFILE, Fetched, media_type, parse_json_object
from .errors import BadDocument, BadURL, ConnectionFailed
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


def webfinger_url(user: str, host: str, scheme: str, *, ask: str | None = None) -> httpx.URL:
    """``/.well-known/webfinger?resource=acct:user@host`` on that host (or on ``ask``: the actor's own
    host, asked whether a handle on another domain is its account)."""
    return httpx.URL(f"{scheme}://{ask or host}/.well-known/webfinger", params={"resource": f"acct:{user}@{host}"})


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


def subject_of(fetched: Fetched) -> str | None:
    """The JRD's ``subject`` as ``user@host`` (the account's canonical handle), or None without a usable one."""
    subject = parse_json_object(fetched).get("subject")
    if not isinstance(subject, str) or not subject.startswith("acct:"):
        return None
    try:
        user, host = parse_handle(subject)
    except BadURL:
        return None
    return f"{user}@{host}"


def webfinger_attempts(handle: str, policy: FetchPolicy, *, ask: str | None = None) -> list[tuple[str, bool]]:
    """The WebFinger URLs to try, in order, each with whether it is the last one; ``ask`` puts the question
    to another host than the handle's. In allow mode a host without TLS is retried over http (a connection
    failure on any earlier attempt moves on)."""
    user, host = parse_handle(handle)
    schemes = ("https", "http") if policy.allow_private_addresses else ("https",)
    return [(str(webfinger_url(user, host, scheme, ask=ask)), scheme == schemes[-1]) for scheme in schemes]


@contextlib.contextmanager
def moving_on_from_failure(last: bool) -> Iterator[None]:
    """Around one attempt: a connection failure moves on to the next attempt, and is the caller's on the last."""
    try:
        yield
    except ConnectionFailed:
        if last:
            raise


__all__ = ["JRD_ACCEPT", "JRD_CONTENT_TYPES", "actor_from_jrd", "moving_on_from_failure", "parse_handle",
           "subject_of", "webfinger_attempts", "webfinger_url"]
