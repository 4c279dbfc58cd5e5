"""The Wayback Machine: the fallback link readers get for a dead link, and the optional save request.

The fallback is ``https://web.archive.org/web/<saved date>/<url>`` with the date the bookmark was saved
(``YYYYMMDDhhmmss``): the archive answers with its capture nearest to that moment, the page as the owner
saw it. No request leaves for it; it is only a link.

The save request (``[links] wayback_save``, off by default) asks the archive to capture a new bookmark's
page; it is made by the worker at the bookmark's first check, through the guarded client, to
``[links] wayback_endpoint`` followed by the page's URL (tests point it at a loopback stand-in).
"""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:   # web pages only build links: they never load the client
    from ..federation.net import FetchClient

WAYBACK_WEB = "https://web.archive.org/web/"


def wayback_url(url: str, saved_at: datetime | None) -> str:
    """The archive's copy of ``url`` nearest to ``saved_at`` (its newest when the date is unknown)."""
    stamp = saved_at.strftime("%Y%m%d%H%M%S") if saved_at is not None else "2"
    return f"{WAYBACK_WEB}{stamp}/{url}"


def request_save(client: FetchClient, endpoint: str, url: str) -> str:
    """Ask the archive to capture ``url``; returns a line for the owner (never raises for the network:
    a failed save costs nothing but the copy). A GET of ``endpoint + url`` is the archive's public form."""
    from ..federation.net import FetchError

    try:
        answer = client.probe(endpoint + url, method="GET")
    except FetchError as exc:
        return f"Wayback Machine save failed: {exc.reason}"
    if 200 <= answer.status < 400:
        return "Wayback Machine asked to archive the page"
    return f"Wayback Machine save refused (HTTP {answer.status})"


__all__ = ["WAYBACK_WEB", "request_save", "wayback_url"]
