"""One total deadline per outbound request, enforced where the bytes are read.

httpx's timeouts are per operation: each socket read gets the whole read timeout again. A peer that
answers ``103 Early Hints`` every few seconds (httpcore skips 1xx and reads on), or trickles its headers
or body a byte at a time, never trips one, and a synchronous caller (an inbox POST verifying a key, a
signed-GET check, the worker's inbox step) would wait forever. So the sync client sets a deadline in a
context variable, and the guarded backend's streams shrink every connect, TLS handshake, read and write
to the time left, failing at once when none is left. Nested deadlines keep the earliest, so one inbox
request that needs two fetches (a key stub, then its owner) shares one budget.

The async client needs none of this: its total limit is an anyio cancel scope, which interrupts any await.
"""
from __future__ import annotations

import contextlib
import contextvars
import ssl
import time
from typing import Any, Iterator

import httpcore

_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar("linkblog_fetch_deadline", default=None)


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[float]:
    """Every request made inside must be over within ``seconds`` (an enclosing earlier deadline wins);
    yields the deadline as a ``time.monotonic()`` value."""
    outer = _DEADLINE.get()
    until = time.monotonic() + seconds
    if outer is not None:
        until = min(outer, until)
    token = _DEADLINE.set(until)
    try:
        yield until
    finally:
        _DEADLINE.reset(token)


def remaining() -> float | None:
    """Seconds left before the current deadline (may be negative), or None outside any deadline."""
    until = _DEADLINE.get()
    return None if until is None else until - time.monotonic()


def capped(timeout: float | None, error: type[Exception]) -> float | None:
    """``timeout`` shortened to the time left; ``error`` (an httpcore timeout) when none is left."""
    left = remaining()
    if left is None:
        return timeout
    if left <= 0:
        raise error("total time limit reached")
    return left if timeout is None else min(timeout, left)


class DeadlineStream(httpcore.NetworkStream):
    """A connection whose every blocking step ends by the deadline of the request using it (a pooled
    connection serves several requests, so the deadline is read per call, never stored)."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, capped(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, capped(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return DeadlineStream(self._inner.start_tls(ssl_context, server_hostname,
                                                    capped(timeout, httpcore.ConnectTimeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


__all__ = ["DeadlineStream", "capped", "deadline", "remaining"]
