"""Probing a URL for its status: what a link check needs and ``get`` does not give.

``get`` raises on any answer outside 2xx and hides the redirects it followed. A link check wants each
hop (to tell a moved page from a live one), the final status without an exception (404 and 410 are
answers, not failures), a HEAD, conditional headers, and at most a bounded *prefix* of the body (the
page text is compared, not stored). Every hop still goes through ``rules.checked_url`` and the guarded
transport, so a probe is held to the same address policy, redirect limit and total deadline as a fetch.
"""
from __future__ import annotations

import time
import zlib
from dataclasses import dataclass

import httpx

from .documents import media_type
from .errors import FetchTimeout
from .policy import FetchPolicy
from .rules import redirect_target, request_headers

PROBE_METHODS = frozenset({"HEAD", "GET"})
DRAIN_BYTES = 16 * 1024   # an answer whose body is declared this small is read to its end: the connection is reused


@dataclass(frozen=True)
class Probed:
    """The last answer of a probe; ``hops`` are the redirects on the way, each (url, status)."""

    url: str
    status: int
    headers: httpx.Headers
    hops: tuple[tuple[str, int], ...]
    body: bytes = b""
    truncated: bool = False   # the body was longer than the cap: ``body`` is its first part


class PrefixCollector:
    """Keeps the first ``cap`` bytes of a body (inflated in bounded steps) and says when to stop reading:
    a page longer than the cap is not an error here, its beginning is enough to compare its text."""

    def __init__(self, response: httpx.Response, cap: int, deadline: float | None) -> None:
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        self._inflater = (zlib.decompressobj(32 + zlib.MAX_WBITS) if encoding in ("gzip", "x-gzip", "deflate")
                          else None)
        self.usable = encoding in ("", "identity", "gzip", "x-gzip", "deflate")
        self._url, self._cap, self._deadline = response.url, cap, deadline
        self._raw = 0
        self._parts: list[bytes] = []
        self._size = 0
        self.truncated = False

    def feed(self, chunk: bytes) -> bool:
        """Take a chunk; False once enough has been read (the caller stops and closes the answer)."""
        self._raw += len(chunk)
        if self._inflater is not None:
            try:
                chunk = self._inflater.decompress(chunk, self._cap - self._size + 1)
            except zlib.error:
                self.truncated = True
                return False
        room = self._cap - self._size
        if len(chunk) > room or self._raw > self._cap:
            chunk = chunk[:room]
            self.truncated = True
        self._parts.append(chunk)
        self._size += len(chunk)
        if self._deadline is not None and time.monotonic() > self._deadline:
            raise FetchTimeout(f"total time limit reached reading {self._url}")
        return not self.truncated

    def body(self) -> bytes:
        return b"".join(self._parts)


def build_probe(client: httpx.Client | httpx.AsyncClient, policy: FetchPolicy, method: str, target: httpx.URL,
                headers: dict[str, str] | None, timeout: httpx.Timeout | None = None) -> httpx.Request:
    """One hop of a probe: our User-Agent and Accept-Encoding, plus the caller's (conditional) headers."""
    if method not in PROBE_METHODS:
        raise ValueError(f"a probe is HEAD or GET, not {method}")
    extra = {} if timeout is None else {"timeout": timeout}
    return client.build_request(method, target, headers={**(headers or {}), **request_headers(policy, None)},
                                **extra)


def probe_step(response: httpx.Response, hop: int, policy: FetchPolicy, body_types: frozenset[str] | None,
               deadline: float | None) -> httpx.URL | PrefixCollector | None:
    """After a hop's headers: the next URL (a redirect, checked like any other), a collector for the body
    prefix (a 2xx GET of a type in ``body_types``), or None (done, no body wanted)."""
    next_target = redirect_target(response, hop, policy)
    if next_target is not None:
        return next_target
    if (body_types is None or response.request.method != "GET" or not 200 <= response.status_code < 300
            or media_type(response.headers.get("content-type")) not in body_types):
        return None
    collector = PrefixCollector(response, policy.max_body_bytes, deadline)
    return collector if collector.usable else None


def drainable(response: httpx.Response) -> bool:
    """Whether an answer nobody wants the body of may be read to its end rather than closed: it has no body
    (HEAD, 204, 304) or declares a small one (a redirect's, an error page's). Reading it lets the next request
    to the host (the GET after a HEAD, a redirect on the same site) reuse the connection; closing it early
    would throw the connection away."""
    if response.request.method == "HEAD" or response.status_code in (204, 304):
        return True
    length = response.headers.get("content-length", "").strip()
    return length.isdigit() and int(length) <= DRAIN_BYTES


def probed(response: httpx.Response, hops: list[tuple[str, int]], collector: PrefixCollector | None) -> Probed:
    if collector is None:
        return Probed(str(response.url), response.status_code, response.headers, tuple(hops))
    return Probed(str(response.url), response.status_code, response.headers, tuple(hops), collector.body(),
                  collector.truncated)


__all__ = ["DRAIN_BYTES", "PROBE_METHODS", "PrefixCollector", "Probed", "build_probe", "drainable", "probe_step",
           "probed"]
