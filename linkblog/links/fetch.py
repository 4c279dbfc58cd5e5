"""Fetching a saved page through the one guarded client (``federation.net``): the SSRF guard on every hop, one
total deadline (1xx floods and trickled bodies included), a decoded-size cap (gzip bombs stop at the cap), HTML and
PDF only. Nothing is rendered and no script runs: the answer is bytes handed to ``extract``.

robots.txt is respected for our User-Agent (``linkblog``, the product token of ``policy.user_agent``): before the
first page of a host, its ``/robots.txt`` is read (at most ``ROBOTS_MAX_BYTES``, one redirect-checked fetch) and
cached per worker for ``ROBOTS_TTL`` seconds. A robots.txt answering 2xx is obeyed; 4xx, 5xx, a timeout or a
refusal mean no rules (the usual reading of RFC 9309 for 4xx; for 5xx we fetch anyway, since the owner asked for
this one page, not a crawl).
"""
from __future__ import annotations

import dataclasses
import time
import urllib.robotparser
from dataclasses import dataclass
from typing import Any

from ..config import Config
from ..federation.net import FetchClient, FetchError, FetchPolicy, Fetched, HTTPStatusError, media_type
from ..federation.net.policy import user_agent

ACCEPT = "text/html,application/xhtml+xml;q=0.9,application/pdf;q=0.8"
CONTENT_TYPES = frozenset({"text/html", "application/xhtml+xml", "application/pdf"})
ROBOTS_MAX_BYTES = 512 * 1024  # what Google reads of a robots.txt
ROBOTS_TIMEOUT = 10.0
ROBOTS_TTL = 3600.0
ROBOTS_AGENT = "linkblog"


def page_policy(config: Config) -> FetchPolicy:
    """The limits of a page fetch, from ``[copies]`` (and the SSRF switch ``[federation] allow_private_addresses``)."""
    timeout = float(config.get("copies", "timeout"))
    return FetchPolicy(
        user_agent=user_agent(config.base_url), allow_private_addresses=config.get("federation", "allow_private_addresses"),
        connect_timeout=min(5.0, timeout), read_timeout=min(15.0, timeout), total_timeout=timeout,
        max_body_bytes=config.get("copies", "max_bytes"), max_redirects=config.get("copies", "max_redirects"),
        max_connections=config.get("copies", "concurrency") * 2, plain_http=True)


@dataclass(frozen=True)
class Answer:
    """What one page fetch came to: the page (``fetched``), or a ``reason`` and whether trying later may help."""

    fetched: Fetched | None = None
    reason: str = ""
    retry: bool = False
    retry_after: float | None = None
    status: int | None = None


RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


def _failure(exc: FetchError) -> Answer:
    """A refusal or failure as the owner reads it; timeouts, lost connections and 429/5xx are worth retrying."""
    kind = type(exc).__name__
    if isinstance(exc, HTTPStatusError):
        return Answer(reason=f"the page answered HTTP {exc.status}", retry=exc.status in RETRYABLE_STATUSES,
                      retry_after=getattr(exc, "retry_after", None), status=exc.status)
    words = {"FetchTimeout": "the page took too long to arrive", "ConnectionFailed": "the site could not be reached",
             "TooLarge": "the page is larger than the size limit", "TooManyRedirects": "too many redirects",
             "BlockedAddress": "the address is not one we fetch (a private or special network address)",
             "BadURL": "the address cannot be fetched", "BadContentType": "the page is neither HTML nor PDF"}
    return Answer(reason=f"{words.get(kind, 'the fetch failed')}: {exc.reason}",
                  retry=kind in ("FetchTimeout", "ConnectionFailed"))


class PageFetcher:
    """One per worker thread pool: two guarded sync clients (pages, robots.txt) and the robots cache."""

    def __init__(self, config: Config, **client_options: Any) -> None:
        policy = page_policy(config)
        self.policy = policy
        self._pages = FetchClient(policy, **client_options)
        robots_policy = dataclasses.replace(policy, max_body_bytes=ROBOTS_MAX_BYTES,
                                            total_timeout=min(ROBOTS_TIMEOUT, policy.total_timeout))
        self._robots_client = FetchClient(robots_policy, **client_options)
        self._robots: dict[str, tuple[float, urllib.robotparser.RobotFileParser | None]] = {}

    def close(self) -> None:
        self._pages.close()
        self._robots_client.close()

    def __enter__(self) -> PageFetcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def robots_allow(self, url: str) -> bool:
        """Whether ``/robots.txt`` of the URL's origin lets ``linkblog`` fetch it (see the module's docstring)."""
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        cached = self._robots.get(origin)
        if cached is None or cached[0] < time.monotonic():
            rules = None
            try:
                fetched = self._robots_client.get(origin + "/robots.txt", accept="text/plain")
                rules = urllib.robotparser.RobotFileParser()
                rules.parse(fetched.body.decode("utf-8", "replace").splitlines())
            except FetchError:
                rules = None
            cached = (time.monotonic() + ROBOTS_TTL, rules)
            self._robots[origin] = cached
        rules = cached[1]
        return rules is None or rules.can_fetch(ROBOTS_AGENT, url)

    def fetch(self, url: str) -> Answer:
        """GET the page (robots.txt first); never raises a ``FetchError``, always says why in ``reason``."""
        try:
            if not self.robots_allow(url):
                return Answer(reason="the site's robots.txt asks linkblog not to fetch this page")
            fetched = self._pages.get(url, accept=ACCEPT, content_types=CONTENT_TYPES)
        except FetchError as exc:
            return _failure(exc)
        return Answer(fetched=fetched, status=fetched.status)


__all__ = ["ACCEPT", "Answer", "CONTENT_TYPES", "PageFetcher", "RETRYABLE_STATUSES", "media_type", "page_policy"]
