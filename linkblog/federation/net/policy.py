"""The limits one client enforces, shared by the sync and async clients so both keep the same contract."""
from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import httpx


def user_agent(base_url: str) -> str:
    """``linkblog/<version> (+base_url)``: remote admins can see who is calling and where to look."""
    try:
        version = metadata.version("linkblog")
    except metadata.PackageNotFoundError:
        version = "dev"
    return f"linkblog/{version} (+{base_url})"


@dataclass(frozen=True)
class FetchPolicy:
    """Limits shared by the sync and async clients, so both enforce exactly the same contract."""

    user_agent: str
    allow_private_addresses: bool = False
    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    total_timeout: float = 20.0
    max_body_bytes: int = 1024 * 1024
    max_redirects: int = 3
    max_connections: int = 10
    # Plain http to public addresses: for saved web pages (``links/fetch.py``), many of which are http only;
    # never for federation, whose peers must speak TLS. The address guard applies either way.
    plain_http: bool = False
    keepalive_expiry: float = 30.0
    # None: the usual certifi trust store. Tests pass a context trusting their own certificate.
    ssl_context: ssl.SSLContext | None = field(default=None, compare=False)

    @classmethod
    def for_site(cls, base_url: str, **overrides: Any) -> FetchPolicy:
        return cls(user_agent=user_agent(base_url), **overrides)

    @property
    def schemes(self) -> frozenset[str]:
        """Plain http only in allow mode (two local servers talking to each other) or for web pages (``plain_http``)."""
        return frozenset({"https", "http"}) if self.allow_private_addresses or self.plain_http else frozenset({"https"})

    def timeout(self, remaining: float | None = None) -> httpx.Timeout:
        """Per-request limits, shortened so one request cannot outlive the total budget."""
        def cap(value: float) -> float:
            return value if remaining is None else max(0.001, min(value, remaining))
        return httpx.Timeout(connect=cap(self.connect_timeout), read=cap(self.read_timeout),
                             write=cap(self.read_timeout), pool=cap(self.connect_timeout))


def warn_if_private_allowed(logger: logging.Logger, allowed: bool) -> None:
    """Say it loudly at start-up: allow mode turns the SSRF guard off for the local network."""
    if allowed:
        logger.warning("FEDERATION SAFETY OFF: allow_private_addresses is on, so remote fetches and "
                       "deliveries may reach loopback and private-network addresses over plain http. "
                       "Use this only for tests and local trials, never on a public server.")


__all__ = ["FetchPolicy", "user_agent", "warn_if_private_allowed"]
