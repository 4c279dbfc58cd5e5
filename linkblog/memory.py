"""Giving memory freed after a burst of work back to the system.

glibc's malloc keeps what a burst freed (a fan-out, an inbox burst, a run of page requests) in its arenas for
reuse, one arena per thread that allocated, so a long-running process stays at its peak resident size.
``malloc_trim(0)`` hands the free pages back (well under a millisecond). Processes call :func:`release`
after work; it trims at most once every ``INTERVAL`` seconds per process, and does nothing where the C
library is not glibc.
"""
from __future__ import annotations

import ctypes
import threading
import time
from typing import Callable

INTERVAL = 1.0

_lock = threading.Lock()
_last = [float("-inf")]


def _find_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc (macOS, musl): nothing to trim this way
        return None


_trim = _find_trim()


def release(interval: float = INTERVAL) -> bool:
    """Return freed heap pages to the system unless that was done less than ``interval`` seconds ago;
    whether it trimmed now."""
    if _trim is None:
        return False
    now = time.monotonic()
    with _lock:
        if now - _last[0] < interval:
            return False
        _last[0] = now
    _trim(0)
    return True


__all__ = ["INTERVAL", "release"]
