"""The worker's extra delivery processes: both cores sign and send during a fan-out.

One Python process signs and posts about 600 deliveries a second on one core (a fifth of it RSA, most of
the rest the HTTP client), so a machine with more cores than that delivers from more processes. They are
forked from the worker once it has imported everything they run and before it opens any connection or
starts any thread, so they share its memory pages (tens of MB each as fresh processes, a few as forks).
Each runs deliveries only; rows are claimed with leases, so the processes never send one row twice.

A delivery process that dies makes the whole worker stop with an error: ``linkblog serve`` (or systemd)
restarts it with backoff, and the rows the dead process held are taken over when their lease ends. Forking
again from the running worker (which has threads) is what this avoids. Each child gets SIGTERM when the
worker dies, so none outlives it.
"""
from __future__ import annotations

import asyncio
import logging
import os
import signal
from typing import Callable

from ..config import Config

log = logging.getLogger(__name__)
MAX_DEFAULT = 4


def count(config: Config) -> int:
    """``[federation] delivery_processes``; 0 means one per CPU this process may use, at most four."""
    configured = config.get("federation", "delivery_processes")
    if configured:
        return configured
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(MAX_DEFAULT, cpus))


def lower_priority(config: Config) -> int:
    """Lower this process's CPU priority by ``[federation] worker_niceness`` (its forks inherit it); returns
    the niceness now in effect. Deliveries are background work: on a machine whose cores are busy, a page
    request should not queue behind a fan-out's signing and sending (with 5, the web gets about three times
    the worker's share of a contended core; an idle core is used in full either way)."""
    step = config.get("federation", "worker_niceness")
    try:
        return os.nice(step)
    except (AttributeError, OSError) as exc:  # not Unix, or a sandbox that refuses it: run at normal priority
        log.warning("worker: could not lower its CPU priority by %d (%s)", step, exc)
        return 0


def fork_deliverers(extra: int, deliver: Callable[[], None]) -> list[int]:
    """``extra`` children running ``deliver()`` (then exiting); call before any thread or connection exists."""
    import gc

    gc.collect()
    gc.freeze()  # what exists now is never scanned by the collector again, so the forks never copy it for that
    children = []
    parent = os.getpid()
    for _ in range(extra):
        pid = os.fork()
        if pid == 0:  # the child: never returns into the caller's code
            code = 1
            try:
                _die_with_parent(parent)
                deliver()
                code = 0
            except BaseException:  # noqa: BLE001  (report, then leave without running the parent's cleanup)
                log.exception("a delivery process failed")
            finally:
                logging.shutdown()
                os._exit(code)
        children.append(pid)
    return children


async def watch(children: list[int], stop: asyncio.Event) -> None:
    """Until ``stop``: raise ``ChildProcessError`` as soon as a delivery process is gone."""
    while not stop.is_set():
        for pid in children:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                children.remove(pid)
                raise ChildProcessError(f"delivery process {pid} stopped ({_describe(status)})")
        try:
            await asyncio.wait_for(stop.wait(), 1.0)
        except asyncio.TimeoutError:
            pass


def stop_all(children: list[int], timeout: float = 30.0) -> None:
    """SIGTERM (each finishes its batch in hand), then wait; SIGKILL what is still there after ``timeout``."""
    import time

    for pid in children:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    waiting = list(children)
    while waiting and time.monotonic() < deadline:
        for pid in list(waiting):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done = pid
            if done:
                waiting.remove(pid)
        time.sleep(0.05)
    for pid in waiting:
        _signal(pid, signal.SIGKILL)
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"


def _die_with_parent(parent: int) -> None:
    """Linux: SIGTERM to this process when the worker that forked it dies (even by SIGKILL)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


__all__ = ["count", "fork_deliverers", "lower_priority", "stop_all", "watch"]
