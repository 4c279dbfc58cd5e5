"""Discovery documents: WebFinger's JRD, host-meta's XRD and NodeInfo, so a server that knows only
``user@host`` (or only our host) finds our actor and what software answers there.

Built from plain values (the owner's user name, our URLs, counts); the web layer reads the database
and the request and sends what these functions return.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import quoteattr

from .objects import Urls
from .negotiation import AP_TYPE

JRD_TYPE = "application/jrd+json"
XRD_TYPE = "application/xrd+xml; charset=utf-8"
NODEINFO_PROFILE = "http://nodeinfo.diaspora.software/ns/schema/{}"
NODEINFO_VERSIONS = ("2.1", "2.0")
SUBSCRIBE_REL = "http://ostatus.org/schema/1.0/subscribe"
PROFILE_REL = "http://webfinger.net/rel/profile-page"


def webfinger_host(base_url: str) -> str:
    """Our host as WebFinger names it: the base URL's host, with its port if it has one, as configured.
    Unlike ``urls.host_of`` (which reads other servers' URLs) it keeps the configured case, so the
    ``acct:`` subject we publish repeats ``base_url`` exactly."""
    return urlsplit(base_url).netloc


def names_us(resource: str, username: str, u: Urls) -> bool:
    """acct:user@host (or bare user@host) with our host incl. port, or one of our actor/profile URLs."""
    if resource in (u.actor, u.profile, u.base):
        return True
    text = resource[5:] if resource[:5].lower() == "acct:" else resource
    if text.count("@") != 1:  # "@user@host", "user@host@evil", "user"
        return False
    user, _, host = text.partition("@")
    return bool(user) and user.lower() == username.lower() and host.lower() == webfinger_host(u.base)


def webfinger(username: str, u: Urls) -> dict[str, Any]:
    """The JRD for our one account: its actor for servers, its profile page for people."""
    return {
        "subject": f"acct:{username}@{webfinger_host(u.base)}",
        "aliases": [u.actor, u.profile],
        "links": [
            {"rel": "self", "type": AP_TYPE, "href": u.actor},
            {"rel": PROFILE_REL, "type": "text/html", "href": u.profile},
            {"rel": SUBSCRIBE_REL, "template": f"{u.base}/authorize_interaction?uri={{uri}}"},
        ],
    }


def host_meta(u: Urls) -> str:
    """Older clients find WebFinger through this XRD document."""
    template = f"{u.base}/.well-known/webfinger?resource={{uri}}"
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0">\n'
            f'  <Link rel="lrdd" template={quoteattr(template)}/>\n'
            "</XRD>\n")


def nodeinfo_links(u: Urls) -> dict[str, Any]:
    """``/.well-known/nodeinfo``: where each NodeInfo version we serve lives."""
    return {"links": [{"rel": NODEINFO_PROFILE.format(v), "href": f"{u.base}/nodeinfo/{v}"}
                      for v in NODEINFO_VERSIONS]}


@lru_cache(maxsize=1)
def software_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("linkblog")
    except PackageNotFoundError:
        return "0.0.0"


def nodeinfo(version: str, *, local_posts: int, name: str, description: str) -> dict[str, Any]:
    """NodeInfo ``version`` (one of NODEINFO_VERSIONS): one user, no registrations, our public post count."""
    return {
        "version": version,
        "software": {"name": "linkblog", "version": software_version()},
        "protocols": ["activitypub"],
        "services": {"inbound": [], "outbound": []},
        "openRegistrations": False,
        "usage": {"users": {"total": 1, "activeMonth": 1, "activeHalfyear": 1}, "localPosts": local_posts},
        "metadata": {"nodeName": name, "nodeDescription": description},
    }


def nodeinfo_content_type(version: str) -> str:
    return f'application/json; profile="{NODEINFO_PROFILE.format(version)}#"'
