"""Taking turns: several hosts' links checked at once, each host politely, one request at a time.

A check mostly waits (for a site's answer, for a host's gap), so a run checks up to ``concurrency`` links at
the same time, on threads, but never two of one host: a host is either *in flight* (one of its links is being
checked) or waiting for its turn, and its next link starts only after the previous one ended and the host's
``per_host_gap`` since that previous check *ended* has passed (``Pacer``): however long the answers took to
arrive, a site never sees two checks closer than the gap. Hosts take turns in the order of their first
link; while every host that has links left is in flight or inside its gap, the dispatcher (the caller's thread)
waits for the first check to end or for the first gap to pass, whichever comes first.

The dispatcher alone decides what starts; the checks themselves run on the pool's threads. A stop
(``Pacer.pause`` returning False, e.g. ``threading.Event.wait`` once set) starts nothing more; the checks
already in flight end by themselves (each has its total deadline) before ``in_turns`` returns.
"""
from __future__ import annotations

import time
from collections import OrderedDict, deque
from concurrent.futures import Future, ThreadPoolExecutor
from queue import Empty, SimpleQueue
from typing import Any, Callable, Generic, Iterable, TypeVar

from ..urls import host_of

T = TypeVar("T")


class Pacer:
    """At most one request per host per ``gap`` seconds. ``sleep`` may return True to say "stop now"
    (``threading.Event.wait``), so a worker asked to stop never sits out a long gap. Used by one thread (the
    dispatcher) only."""

    def __init__(self, gap: float, *, monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Any] = time.sleep) -> None:
        self.gap, self._monotonic, self._sleep = gap, monotonic, sleep
        self._last: dict[str, float] = {}

    def delay(self, host: str) -> float:
        """Seconds until ``host``'s turn (0 when it may be asked now)."""
        return max(0.0, self._last.get(host, float("-inf")) + self.gap - self._monotonic())

    def take(self, host: str) -> None:
        """``host`` is being asked now: its next turn is a gap later."""
        self._last[host] = self._monotonic()

    def pause(self, seconds: float) -> bool:
        """Sleep ``seconds``; False when told to stop meanwhile (``pause(0)`` sees a stop at once)."""
        if seconds <= 0 and self._sleep is time.sleep:
            return True      # time.sleep(0) would hand the GIL to the checking threads and wait to get it back
        return self._sleep(max(0.0, seconds)) is not True

    def wait(self, host: str) -> bool:
        """Wait for ``host``'s turn and take it; False when told to stop meanwhile."""
        if not self.pause(self.delay(host)):
            return False
        self.take(host)
        return True


def by_host(items: Iterable[T], url: Callable[[T], str]) -> OrderedDict[str, deque[T]]:
    """Items grouped by host, hosts in the order of their first item, items in their order."""
    queues: OrderedDict[str, deque[T]] = OrderedDict()
    for item in items:
        queues.setdefault(host_of(url(item)), deque()).append(item)
    return queues


def interleaved(items: Iterable[T], url: Callable[[T], str] = lambda item: item.url) -> list[T]:  # type: ignore[attr-defined]
    """Round-robin over hosts: a batch of one big site and a few small ones waits the least."""
    queues = by_host(items, url)
    order: list[T] = []
    while queues:
        for host in list(queues):
            order.append(queues[host].popleft())
            if not queues[host]:
                del queues[host]
    return order


class Turns(Generic[T]):
    """One batch taken in turns (see the module docstring).

    ``skip(item)`` is asked when a host's turn comes, before any request: True means the item was dealt with
    without asking the host (its host asked us to wait) and the host's next item may follow at once.
    ``check(item)`` runs on a pool thread; an exception it raises ends the batch and is raised again here.
    ``each(item)`` is called on the dispatcher's thread after each item is done (a progress bar)."""

    def __init__(self, items: Iterable[T], url: Callable[[T], str], pacer: Pacer, concurrency: int) -> None:
        self.queues = by_host(items, url)
        self.pacer, self.concurrency = pacer, max(1, concurrency)
        self.inflight: dict[Future[None], tuple[str, T]] = {}
        self.done: SimpleQueue[Future[None]] = SimpleQueue()

    def run(self, check: Callable[[T], None], skip: Callable[[T], bool],
            each: Callable[[T], None] | None = None) -> bool:
        """Check every item; False when told to stop before the end."""
        ready: deque[str] = deque(self.queues)      # hosts with items left and none in flight
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="link-check") as pool:
            while ready or self.inflight:
                soonest = self._start(pool, ready, check, skip, each)
                if soonest is False:
                    return False
                if self.inflight:
                    timeout = None if soonest is None or len(self.inflight) >= self.concurrency else soonest
                    for future in self._finished(timeout):
                        host, item = self.inflight.pop(future)
                        self.pacer.take(host)       # the gap runs from the end of the check, too
                        future.result()
                        if each is not None:
                            each(item)
                        if self.queues[host]:
                            ready.append(host)
                        else:
                            del self.queues[host]
                elif soonest is not None and not self.pacer.pause(soonest):
                    return False
        return True

    def _finished(self, timeout: float | None) -> list[Future[None]]:
        """The checks that have ended, after waiting up to ``timeout`` for the first (None: for as long as it
        takes). Each check puts its future in ``done`` as it ends: cheaper than ``concurrent.futures.wait``,
        which hooks a waiter into every check in flight on each call and unhooks it again."""
        try:
            finished = [self.done.get(timeout=timeout)]
        except Empty:
            return []
        while True:
            try:
                finished.append(self.done.get_nowait())
            except Empty:
                return finished

    def _start(self, pool: ThreadPoolExecutor, ready: deque[str], check: Callable[[T], None],
               skip: Callable[[T], bool], each: Callable[[T], None] | None) -> float | None | bool:
        """Start every host whose turn has come, while there is room; the seconds until the next turn
        (None: no host is waiting for one), or False when told to stop."""
        soonest: float | None = None
        for _ in range(len(ready)):
            if len(self.inflight) >= self.concurrency:
                break
            host = ready.popleft()
            queue = self.queues[host]
            while queue and skip(queue[0]):
                item = queue.popleft()
                if each is not None:
                    each(item)
            if not queue:
                del self.queues[host]
                continue
            delay = self.pacer.delay(host)
            if delay > 0:
                soonest = delay if soonest is None else min(soonest, delay)
                ready.append(host)
                continue
            if not self.pacer.pause(0):
                ready.appendleft(host)
                return False
            self.pacer.take(host)
            item = queue.popleft()
            future = pool.submit(check, item)
            self.inflight[future] = (host, item)
            future.add_done_callback(self.done.put)
        return soonest


__all__ = ["Pacer", "Turns", "by_host", "interleaved"]
