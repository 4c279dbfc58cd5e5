"""``FetchClient`` (sync, for the web process) and ``AsyncFetchClient`` (for the delivery worker).

Thin wrappers around one ``FetchPolicy``: the connection guard is in ``guard``, every check on URLs,
answers and bodies in ``rules``, documents in ``documents``, so the two clients differ only in how they
wait and in how the one total time limit (``policy.total_timeout``, covering DNS, connect, 1xx answers,
headers and body) is enforced: a deadline every socket operation is shrunk to on the sync side
(``deadline``), a cancel scope on the async side.
"""
from __future__ import annotations

import contextlib
from typing import Any

import anyio
import httpcore
import httpx

from .deadline import deadline, remaining
from .documents import AP_ACCEPT, AP_CONTENT_TYPE, AP_CONTENT_TYPES, Delivery, Fetched, checked_document
from .errors import FetchTimeout
from .guard import AsyncGuardedTransport, GuardedTransport
from .policy import FetchPolicy
from .probe import PrefixCollector, Probed, build_probe, drainable, probe_step, probed
from .rules import build_get, build_post, checked_url, client_options, next_step, translated_errors
from .webfinger import JRD_ACCEPT, JRD_CONTENT_TYPES, actor_from_jrd, moving_on_from_failure, webfinger_attempts


class FetchClient:
    """Sync client for the web process (e.g. fetching a key while verifying an inbox POST)."""

    def __init__(self, policy: FetchPolicy, *, network_backend: httpcore.NetworkBackend | None = None) -> None:
        """``network_backend`` opens the vetted connections (default: plain sockets); tests swap in
        a recorder. The guard always wraps it."""
        self.policy = policy
        self._client = httpx.Client(transport=GuardedTransport(policy, network_backend), **client_options(policy))

    def __enter__(self) -> FetchClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def get(self, url: str, *, accept: str | None = None, content_types: frozenset[str] | None = None,
            auth: httpx.Auth | None = None) -> Fetched:
        """GET with redirects (each hop re-checked), status, content type, size and time limits."""
        policy = self.policy
        target = checked_url(url, policy)
        with translated_errors(target), deadline(policy.total_timeout) as until:
            for hop in range(policy.max_redirects + 1):
                left = remaining() or 0.0
                if left <= 0:
                    raise FetchTimeout(f"total time limit reached fetching {url}")
                request = build_get(self._client, policy, target, accept, policy.timeout(left))
                response = self._client.send(request, stream=True, auth=auth)
                try:
                    step = next_step(response, hop, policy, content_types, until)
                    if isinstance(step, httpx.URL):
                        target = step
                        continue
                    for chunk in response.iter_raw():
                        step.feed(chunk)
                    return step.fetched()
                finally:
                    response.close()
        raise AssertionError("unreachable: the last hop either returns or raises")

    def probe(self, url: str, *, method: str = "HEAD", headers: dict[str, str] | None = None,
              body_types: frozenset[str] | None = None) -> Probed:
        """HEAD or GET ``url`` for its status: redirects followed and recorded (each hop checked like
        ``get``'s), any final status returned rather than raised, and for a 2xx GET of a type in
        ``body_types`` the first ``max_body_bytes`` of the body. Refusals and failures still raise."""
        policy = self.policy
        target = checked_url(url, policy)
        hops: list[tuple[str, int]] = []
        with translated_errors(target), deadline(policy.total_timeout) as until:
            for hop in range(policy.max_redirects + 1):
                left = remaining() or 0.0
                if left <= 0:
                    raise FetchTimeout(f"total time limit reached probing {url}")
                request = build_probe(self._client, policy, method, target, headers, policy.timeout(left))
                response = self._client.send(request, stream=True)
                step = None
                try:
                    step = probe_step(response, hop, policy, body_types, until)
                    if isinstance(step, httpx.URL):
                        hops.append((str(target), response.status_code))
                        target = step
                        continue
                    if step is not None:
                        for chunk in response.iter_raw():
                            if not step.feed(chunk):
                                break
                    return probed(response, hops, step)
                finally:
                    if not isinstance(step, PrefixCollector) and drainable(response):
                        with contextlib.suppress(httpx.HTTPError, httpx.StreamError):
                            for _ in response.iter_raw():
                                pass
                    response.close()
        raise AssertionError("unreachable: the last hop either returns or raises")

    def fetch_json(self, url: str, *, auth: httpx.Auth | None = None) -> dict[str, Any]:
        """An ActivityPub document whose ``id`` equals the final URL (fragment of ``url`` dropped)."""
        return checked_document(self.get(url, accept=AP_ACCEPT, content_types=AP_CONTENT_TYPES, auth=auth))

    def post_json(self, inbox_url: str, body: bytes, *, auth: httpx.Auth | None = None,
                  content_type: str = AP_CONTENT_TYPE, keep_alive: bool = True) -> Delivery:
        """Deliver ``body``; any status comes back (the worker decides on retries), errors raise.
        ``keep_alive=False``: the connection closes after the answer (see ``rules.build_post``)."""
        policy = self.policy
        target = checked_url(inbox_url, policy)
        with translated_errors(target), deadline(policy.total_timeout):
            request = build_post(self._client, policy, target, body, content_type,
                                 policy.timeout(remaining()), keep_alive)
            response = self._client.send(request, stream=True, auth=auth)
            try:
                # Drain a little so the connection can be reused; the status is already known, and
                # running out of time here only costs the connection.
                with contextlib.suppress(httpx.HTTPError):
                    drained = 0
                    for chunk in response.iter_raw():
                        drained += len(chunk)
                        if drained > policy.max_body_bytes:
                            break
            finally:
                response.close()
        return Delivery(response.status_code, response.headers)

    def webfinger(self, handle: str, *, auth: httpx.Auth | None = None) -> str:
        """Actor id for ``@user@host``; in allow mode a host without TLS is retried over http.
        The actor may live on another host (split domains): callers fetch it with ``fetch_json``.
        Both attempts share one total time limit."""
        with deadline(self.policy.total_timeout):
            return self._webfinger(handle, auth)

    def _webfinger(self, handle: str, auth: httpx.Auth | None) -> str:
        for url, last in webfinger_attempts(handle, self.policy):
            with moving_on_from_failure(last):
                fetched = self.get(url, accept=JRD_ACCEPT, content_types=JRD_CONTENT_TYPES, auth=auth)
                return actor_from_jrd(fetched)
        raise AssertionError("unreachable")


class AsyncFetchClient:
    """Async client for the delivery worker: one per worker, connections reused, pool bounded by
    ``policy.max_connections``. The total time limit is a hard cancel scope here."""

    def __init__(self, policy: FetchPolicy, *,
                 network_backend: httpcore.AsyncNetworkBackend | None = None) -> None:
        self.policy = policy
        self._transport = AsyncGuardedTransport(policy, network_backend)
        self._client = httpx.AsyncClient(transport=self._transport, **client_options(policy))

    async def __aenter__(self) -> AsyncFetchClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def get(self, url: str, *, accept: str | None = None, content_types: frozenset[str] | None = None,
                  auth: httpx.Auth | None = None) -> Fetched:
        """Same contract as ``FetchClient.get``."""
        policy = self.policy
        target = checked_url(url, policy)
        with translated_errors(target), anyio.fail_after(policy.total_timeout):
            for hop in range(policy.max_redirects + 1):
                request = build_get(self._client, policy, target, accept)
                response = await self._client.send(request, stream=True, auth=auth)
                try:
                    step = next_step(response, hop, policy, content_types, None)
                    if isinstance(step, httpx.URL):
                        target = step
                        continue
                    async for chunk in response.aiter_raw():
                        step.feed(chunk)
                    return step.fetched()
                finally:
                    await response.aclose()
        raise AssertionError("unreachable: the last hop either returns or raises")

    async def probe(self, url: str, *, method: str = "HEAD", headers: dict[str, str] | None = None,
                    body_types: frozenset[str] | None = None) -> Probed:
        """Same contract as ``FetchClient.probe``."""
        policy = self.policy
        target = checked_url(url, policy)
        hops: list[tuple[str, int]] = []
        with translated_errors(target), anyio.fail_after(policy.total_timeout):
            for hop in range(policy.max_redirects + 1):
                request = build_probe(self._client, policy, method, target, headers)
                response = await self._client.send(request, stream=True)
                step = None
                try:
                    step = probe_step(response, hop, policy, body_types, None)
                    if isinstance(step, httpx.URL):
                        hops.append((str(target), response.status_code))
                        target = step
                        continue
                    if step is not None:
                        async for chunk in response.aiter_raw():
                            if not step.feed(chunk):
                                break
                    return probed(response, hops, step)
                finally:
                    if not isinstance(step, PrefixCollector) and drainable(response):
                        with contextlib.suppress(httpx.HTTPError, httpx.StreamError):
                            async for _ in response.aiter_raw():
                                pass
                    await response.aclose()
        raise AssertionError("unreachable: the last hop either returns or raises")

    async def fetch_json(self, url: str, *, auth: httpx.Auth | None = None) -> dict[str, Any]:
        """Same contract as ``FetchClient.fetch_json``."""
        return checked_document(await self.get(url, accept=AP_ACCEPT, content_types=AP_CONTENT_TYPES, auth=auth))

    async def post_json(self, inbox_url: str, body: bytes, *, auth: httpx.Auth | None = None,
                        content_type: str = AP_CONTENT_TYPE, keep_alive: bool = True) -> Delivery:
        """Same contract as ``FetchClient.post_json``. Sent straight through the guarded transport: a POST
        follows no redirect and keeps no cookie, and the client's machinery for those (an auth flow per
        request, the cookie jar's parsing of every answer) is a tenth of a delivery's CPU in a fan-out. So
        ``auth`` must sign without a challenge: its flow's first request is the one sent."""
        policy = self.policy
        target = checked_url(inbox_url, policy)
        until = anyio.current_time() + policy.total_timeout
        with translated_errors(target):
            with anyio.fail_after(policy.total_timeout):
                request = build_post(self._client, policy, target, body, content_type, keep_alive=keep_alive)
                if auth is not None:
                    request = next(auth.auth_flow(request))
                response = await self._transport.handle_async_request(request)
                response.request = request
            try:
                # The drain shares the same deadline: a trickled answer body costs only the connection.
                with anyio.CancelScope(deadline=until), contextlib.suppress(httpx.HTTPError):
                    drained = 0
                    async for chunk in response.aiter_raw():
                        drained += len(chunk)
                        if drained > policy.max_body_bytes:
                            break
            finally:
                await response.aclose()
        return Delivery(response.status_code, response.headers)

    async def webfinger(self, handle: str, *, auth: httpx.Auth | None = None) -> str:
        """Same contract as ``FetchClient.webfinger``."""
        with translated_errors(handle), anyio.fail_after(self.policy.total_timeout):
            for url, last in webfinger_attempts(handle, self.policy):
                with moving_on_from_failure(last):
                    fetched = await self.get(url, accept=JRD_ACCEPT, content_types=JRD_CONTENT_TYPES, auth=auth)
                    return actor_from_jrd(fetched)
        raise AssertionError("unreachable")


__all__ = ["AsyncFetchClient", "FetchClient"]
