"""The errors every remote request can end in: one base class, so callers catch ``FetchError`` and
show its ``reason``."""
from __future__ import annotations

class FetchError(Exception):
    """Any refused or failed remote request; ``reason`` is safe to log and show to the owner."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BadURL(FetchError):
    """Malformed URL, a scheme we do not speak, or credentials in the URL."""


class BlockedAddress(FetchError):
    """The host is, or resolves to, an address we never connect to."""


class TooLarge(FetchError):
    """The body (declared or actually sent, after decompression) exceeds the cap."""


class BadContentType(FetchError):
    """The server answered with a media type (or encoding) we do not accept."""


class TooManyRedirects(FetchError):
    """More redirects than the policy allows."""


class IdMismatch(FetchError):
    """The document claims to be something other than what we fetched."""


class BadDocument(FetchError):
    """Not JSON, not a JSON object, no id, or a JRD without an ActivityPub self link."""


class FetchTimeout(FetchError):
    """Connect, read or total time limit reached."""


class ConnectionFailed(FetchError):
    """Network-level failure: refused, reset, TLS or protocol error."""


class HTTPStatusError(FetchError):
    """A final answer outside 2xx; ``status`` (and ``retry_after``) tell the caller whether and when to retry."""

    def __init__(self, status: int, url: str, retry_after: float | None = None) -> None:
        super().__init__(f"HTTP {status} from {url}")
        self.status = status
        self.url = url
        self.retry_after = retry_after  # seconds, from a 429's or 503's Retry-After header


__all__ = ["BadContentType", "BadDocument", "BadURL", "BlockedAddress", "ConnectionFailed", "FetchError", "FetchTimeout",
           "HTTPStatusError", "IdMismatch", "TooLarge", "TooManyRedirects"]
