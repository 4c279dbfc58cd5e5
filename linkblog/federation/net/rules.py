"""The request and response rules both clients share, so the sync and async paths cannot drift apart:
URL and redirect checks, status, content type and size checks, the body cap, request preparation
and the mapping of httpx errors to ``FetchError``.
"""
from __future__ import annotations

import contextlib
import time
import zlib
from typing import Any, Iterator

import httpx

from ...hosts import InvalidHost, ascii_host_url
from .documents import AP_CONTENT_TYPE, Fetched, media_type, parse_retry_after
from .errors import (BadContentType, BadDocument, BadURL, ConnectionFailed, FetchError, FetchTimeout, HTTPStatusError,
                     TooLarge, TooManyRedirects)
from .policy import FetchPolicy

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


def client_options(policy: FetchPolicy) -> dict[str, Any]:
    """Settings for the httpx client under either FetchClient: no proxies from the environment (they
    would bypass the guard), redirects followed by hand (each hop re-checked)."""
    return {"trust_env": False, "follow_redirects": False, "timeout": policy.timeout(),
            "headers": {"User-Agent": policy.user_agent}}


def request_headers(policy: FetchPolicy, accept: str | None) -> dict[str, str]:
    headers = {"User-Agent": policy.user_agent, "Accept-Encoding": "gzip, deflate"}
    if accept:
        headers["Accept"] = accept
    return headers


def build_get(client: httpx.Client | httpx.AsyncClient, policy: FetchPolicy, target: httpx.URL,
              accept: str | None, timeout: httpx.Timeout | None = None) -> httpx.Request:
    """One GET hop; ``timeout`` shortens the client's limits (None keeps them)."""
    extra = {} if timeout is None else {"timeout": timeout}
    return client.build_request("GET", target, headers=request_headers(policy, accept), **extra)


def build_post(client: httpx.Client | httpx.AsyncClient, policy: FetchPolicy, target: httpx.URL, body: bytes,
               content_type: str, timeout: httpx.Timeout | None = None, keep_alive: bool = True) -> httpx.Request:
    """An inbox POST; ``timeout`` shortens the client's limits (None keeps them). ``keep_alive=False`` asks
    for the connection to be closed after the answer (``Connection: close``): one nothing else will use
    then never waits in the pool, where every idle connection is checked on every later request."""
    extra = {} if timeout is None else {"timeout": timeout}
    headers = {**request_headers(policy, AP_CONTENT_TYPE), "Content-Type": content_type}
    if not keep_alive:
        headers["Connection"] = "close"
    return client.build_request("POST", target, content=body, **extra, headers=headers)


def checked_url(url: str | httpx.URL, policy: FetchPolicy) -> httpx.URL:
    """Parse and check scheme/host; the fragment is dropped because it never reaches a server."""
    try:
        parsed = httpx.URL(ascii_host_url(url) if isinstance(url, str) else url)  # httpx's IDNA skips UTS #46
    except InvalidHost as exc:
        raise BadURL(f"invalid host in {url!r}: {exc}") from None
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise BadURL(f"invalid URL {url!r}: {exc}") from None
    if parsed.scheme not in policy.schemes:
        raise BadURL(f"scheme {parsed.scheme!r} not allowed in {url!r}")
    if not parsed.host:
        raise BadURL(f"no host in {url!r}")
    if parsed.userinfo:
        raise BadURL("credentials in URL are not allowed")
    return parsed.copy_with(fragment=None) if parsed.fragment else parsed  # copy_with parses the URL again


def redirect_target(response: httpx.Response, hop: int, policy: FetchPolicy) -> httpx.URL | None:
    if response.status_code not in REDIRECT_STATUSES or "location" not in response.headers:
        return None
    if hop >= policy.max_redirects:
        raise TooManyRedirects(f"more than {policy.max_redirects} redirects from {response.request.url}")
    try:
        target = response.url.join(response.headers["location"])
    except httpx.InvalidURL as exc:
        raise BadURL(f"invalid redirect target: {exc}") from None
    return checked_url(target, policy)


def check_response(response: httpx.Response, content_types: frozenset[str] | None, cap: int) -> None:
    if not 200 <= response.status_code < 300:
        raise HTTPStatusError(response.status_code, str(response.url),
                              parse_retry_after(response.headers.get("retry-after")))
    if content_types is not None and media_type(response.headers.get("content-type")) not in content_types:
        raise BadContentType(f"unexpected content type {response.headers.get('content-type')!r} "
                             f"from {response.url}")
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise TooLarge(f"{response.url} declares {declared} bytes, more than {cap}")


class BodyCollector:
    """Counts bytes as they arrive and inflates gzip/deflate in bounded steps, so neither an
    endless stream nor a compression bomb is ever held in memory beyond the cap."""

    def __init__(self, response: httpx.Response, cap: int, deadline: float | None) -> None:
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        if encoding in ("", "identity"):
            self._inflater = None
        elif encoding in ("gzip", "x-gzip", "deflate"):
            self._inflater = zlib.decompressobj(32 + zlib.MAX_WBITS)  # gzip or zlib header, detected
        else:
            raise BadContentType(f"unsupported content encoding {encoding!r}")
        self._response, self._url, self._cap, self._deadline = response, response.url, cap, deadline
        self._raw = 0
        self._size = 0
        self._parts: list[bytes] = []

    def feed(self, chunk: bytes) -> None:
        self._raw += len(chunk)
        if self._raw > self._cap:
            raise TooLarge(f"{self._url} sent more than {self._cap} bytes")
        if self._inflater is not None:
            try:
                chunk = self._inflater.decompress(chunk, self._cap - self._size + 1)
            except zlib.error as exc:
                raise BadDocument(f"corrupt compressed body from {self._url}: {exc}") from None
        self._size += len(chunk)
        if self._size > self._cap:
            raise TooLarge(f"{self._url} body is larger than {self._cap} bytes")
        self._parts.append(chunk)
        if self._deadline is not None and time.monotonic() > self._deadline:
            raise FetchTimeout(f"total time limit reached reading {self._url}")

    def fetched(self) -> Fetched:
        """The whole answer, once every chunk has been fed."""
        response = self._response
        return Fetched(str(response.url), response.status_code, response.headers, b"".join(self._parts))


def next_step(response: httpx.Response, hop: int, policy: FetchPolicy, content_types: frozenset[str] | None,
              deadline: float | None) -> httpx.URL | BodyCollector:
    """What to do once a hop's headers are in: the next URL to ask (a redirect, already checked), or a
    collector for the body of an answer whose status, content type and declared size passed."""
    next_target = redirect_target(response, hop, policy)
    if next_target is not None:
        return next_target
    check_response(response, content_types, policy.max_body_bytes)
    return BodyCollector(response, policy.max_body_bytes, deadline)


@contextlib.contextmanager
def translated_errors(url: object) -> Iterator[None]:
    """httpx/anyio failures become FetchError subclasses; our own errors pass through unchanged."""
    try:
        yield
    except FetchError:
        raise
    except (httpx.TimeoutException, TimeoutError):
        raise FetchTimeout(f"time limit reached fetching {url}") from None
    except httpx.InvalidURL as exc:
        raise BadURL(f"invalid URL {url}: {exc}") from None
    except httpx.TransportError as exc:
        raise ConnectionFailed(f"could not fetch {url}: {exc or type(exc).__name__}") from None


__all__ = ["REDIRECT_STATUSES", "BodyCollector", "build_get", "build_post", "check_response", "checked_url",
           "client_options", "next_step", "redirect_target", "request_headers", "translated_errors"]
