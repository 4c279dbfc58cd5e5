"""The background worker: delivers queued activities and processes received ones, until told to stop.

``linkblog worker`` runs it; ``linkblog serve`` starts one beside the web processes. Several workers (on
several machines, against one PostgreSQL) can run at once: rows are claimed, never shared.

Deliveries, the inbox, page copies (``links.jobs``) and, when ``[links] check`` is on, link checks
(``links/checks.py``) are independent loops: the inbox step fetches from strangers' servers in a thread (the
sync client), deliveries post from the event loop, page copies and link checks fetch and parse in threads of
their own, and none waits for another, so a slow peer holding an inbox fetch (up to ``fetch_timeout`` per
fetch) never delays a delivery, a big fan-out never delays processing what arrived, and 50,000 imported pages
never delay either. Each loop watches the database on its own; a fatal failure in one stops them all. The
link checks rest a minute when none is due.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from datetime import timedelta
from typing import TYPE_CHECKING, Awaitable, Callable

from sqlalchemy import Engine, select

from .. import memory
from ..config import Config
from ..db import make_engine
from ..models import Owner
from ..queries.owner import is_the_owner
from . import delivery, health, objects, processes, retention
from .doorbell import Doorbell
from .net import AsyncFetchClient, FetchError, FetchPolicy, warn_if_private_allowed
from .signatures import SignatureAuth

if TYPE_CHECKING:
    from ..links.fetch import PageFetcher

log = logging.getLogger(__name__)
IDLE_SECONDS = 1.0
LINK_IDLE_SECONDS = 60.0   # nothing due: links fall due by the hour at the soonest, no need to ask every second


def delivery_policy(config: Config) -> FetchPolicy:
    """``delivery_timeout`` is the one total deadline of an attempt (connect, 1xx, headers, body)."""
    timeout = float(config.get("federation", "delivery_timeout"))
    return FetchPolicy.for_site(
        config.base_url, allow_private_addresses=config.get("federation", "allow_private_addresses"),
        connect_timeout=min(5.0, timeout), read_timeout=timeout, total_timeout=timeout,
        max_connections=config.get("federation", "delivery_concurrency"))


def owner_auth(engine: Engine, config: Config) -> SignatureAuth:
    with engine.connect() as conn:
        private_pem = conn.execute(select(Owner.private_key_pem).where(is_the_owner())).scalar_one()
    return SignatureAuth(objects.urls(config).key_id, private_pem)


def make_poster(client: AsyncFetchClient, auth: SignatureAuth) -> delivery.Poster:
    """POST one activity, signed; refusals by our own guard (blocked address, bad URL) are permanent."""

    async def post(inbox: str, body: bytes, keep_alive: bool = True) -> delivery.Outcome:
        try:
            answer = await client.post_json(inbox, body, auth=auth, keep_alive=keep_alive)
        except FetchError as exc:
            permanent = type(exc).__name__ in ("BlockedAddress", "BadURL")
            return delivery.Outcome(status=None, error=f"{type(exc).__name__}: {exc}", permanent=permanent)
        return delivery.Outcome(status=answer.status, retry_after=answer.retry_after)

    return post


async def deliver_step(engine: Engine, config: Config, post: delivery.Poster) -> int:
    """One batch of due deliveries; returns how many it handled (0 means idle)."""
    fed = lambda key: config.get("federation", key)  # noqa: E731
    return await delivery.run_once(
        engine, post, concurrency=fed("delivery_concurrency"), max_attempts=fed("max_attempts"),
        retry_after_cap=fed("retry_after_cap"), unavailable_after=timedelta(days=fed("unavailable_after_days")),
        lease=timedelta(seconds=fed("delivery_lease")))


async def inbox_step(engine: Engine, config: Config) -> int:
    """Process queued inbox activities in a thread (their fetches block), and prune what is kept no
    longer (hourly; a no-op in between); returns how much it did."""
    done = await asyncio.to_thread(_process_inbox, engine, config)
    done += await asyncio.to_thread(retention.prune_when_due, engine, config)
    return done


async def pages_step(engine: Engine, config: Config, fetcher: "PageFetcher | None") -> int:
    """One round of page copies (``links.jobs``) in a thread: its fetches block and its parsing is CPU work."""
    if fetcher is None:
        return 0
    from ..links import jobs

    return await asyncio.to_thread(jobs.run_once, engine, config, fetcher)


async def run_cycle(engine: Engine, config: Config, post: delivery.Poster) -> int:
    """One step of everything the worker does, both halves at once; returns how much work it found."""
    delivered, processed = await asyncio.gather(deliver_step(engine, config, post), inbox_step(engine, config))
    return delivered + processed


def _process_inbox(engine: Engine, config: Config) -> int:
    from . import inbox  # imported on first use: a delivery-only worker never pays for the inbox machinery
    from .fetcher import fetch_client

    return inbox.process_pending(engine, config, fetch_client(config))


def link_checker(engine: Engine, config: Config,
                 halt: threading.Event) -> tuple[Callable[[], int], Callable[[], None]]:
    """The links loop's step (check one batch of due links; a stop ends the wait for a host's turn) and the
    closing of its client. Imported on first use: a worker that checks no links never loads them."""
    from ..links import checks, copies
    from .net import FetchClient

    client = FetchClient(checks.link_policy(config))
    run = checks.Run(engine, client, checks.Rules.of(config), reference=copies.copy_text,
                     pacer=checks.Pacer(float(config.get("links", "per_host_gap")), sleep=halt.wait))
    return (lambda: checks.check_due(run, spread=True)), client.close


async def run(config: Config, stop: asyncio.Event, *, once: bool = False, inbox: bool = True) -> None:
    """Loop until ``stop``; raises ``health.WorkerFatal`` when the database stays unreachable. ``inbox=False``
    runs deliveries only (the worker's extra delivery processes): the inbox and the links loop run in the
    first process alone."""
    engine = make_engine(config.database_url)
    warn_if_private_allowed(log, config.get("federation", "allow_private_addresses"))
    watch = health.DatabaseWatch()
    auth = await asyncio.to_thread(health.with_patience, lambda: owner_auth(engine, config), watch)
    heartbeat = health.Heartbeat(engine)
    bells: list[asyncio.Event] = []
    loop = asyncio.get_running_loop()

    def wake() -> None:  # from the doorbell's thread
        for bell in bells:
            loop.call_soon_threadsafe(bell.set)

    doorbell = None if once else Doorbell(engine, wake).start()
    halt = threading.Event()
    watcher: asyncio.Task[None] | None = None
    stack = contextlib.ExitStack()
    try:
        async with AsyncFetchClient(delivery_policy(config)) as client:
            post = make_poster(client, auth)
            steps: list[tuple[str, Callable[[], Awaitable[int]], float]] = [
                ("delivery", lambda: deliver_step(engine, config, post), IDLE_SECONDS)]
            if inbox:
                fetcher = _page_fetcher(config)
                stack.callback(lambda: fetcher and fetcher.close())
                steps += [("inbox", lambda: inbox_step(engine, config), IDLE_SECONDS),
                          ("pages", lambda: pages_step(engine, config, fetcher), IDLE_SECONDS)]
                if config.get("links", "check"):
                    check_links, close_links = link_checker(engine, config, halt)
                    stack.callback(close_links)
                    steps.append(("links", lambda: asyncio.to_thread(check_links), LINK_IDLE_SECONDS))
                    watcher = asyncio.create_task(_halt_on(stop, halt))
            bells[:] = [asyncio.Event() for _ in steps]
            halves = [asyncio.create_task(_loop(name, step, stop, once, heartbeat, bell, idle))
                      for (name, step, idle), bell in zip(steps, bells)]
            done, pending = await asyncio.wait(halves, return_when=asyncio.FIRST_EXCEPTION)
            for task in pending:   # one half failed for good: the other stops too, the failure propagates
                task.cancel()
            halt.set()
            await asyncio.gather(*pending, return_exceptions=True)
            for task in done:
                task.result()
    finally:
        halt.set()
        if watcher is not None:
            watcher.cancel()
        stack.close()
        if doorbell is not None:
            await asyncio.to_thread(doorbell.close)
        engine.dispose()


async def _halt_on(stop: asyncio.Event, halt: threading.Event) -> None:
    """Tell the links thread to stop (it may be waiting for a host's turn) when the worker stops."""
    await stop.wait()
    halt.set()


def _page_fetcher(config: Config) -> "PageFetcher | None":
    """The page-copy loop's client; none when ``[copies] mode`` is off in config.toml (a stored setting
    only stops new copies being queued, so queued ones still finish)."""
    if config.get("copies", "mode") == "off":
        return None
    from ..links.fetch import PageFetcher

    return PageFetcher(config)


async def _loop(name: str, step: Callable[[], Awaitable[int]], stop: asyncio.Event, once: bool,
                heartbeat: health.Heartbeat, bell: asyncio.Event | None = None, idle: float = IDLE_SECONDS) -> None:
    """Run ``step`` until stopped, resting up to ``idle`` seconds when it found nothing (less when the
    doorbell rings: something was committed); each loop of the worker has its own database watch, so one
    being slow never holds another."""
    watch = health.DatabaseWatch()
    busy = False
    while not stop.is_set():
        if bell is not None:
            bell.clear()  # a commit from now on wakes the next rest; one before the step is seen by it
        try:
            found = await step()
            watch.ok()
        except Exception as exc:  # noqa: BLE001  (a bad row or a database blip must not kill the worker)
            if watch.failed(exc):
                raise watch.fatal(exc) from exc
            log.exception("worker %s step failed; retrying shortly", name)
            found = 0
        await asyncio.to_thread(heartbeat.beat, found)
        if found or busy:  # after work, and once more when the work is done: give back what it freed
            memory.release(memory.INTERVAL if found else 0.0)
        busy = bool(found)
        if once:
            break
        if not found:
            await _rest(stop, bell, idle)


async def _rest(stop: asyncio.Event, bell: asyncio.Event | None, idle: float) -> None:
    """Until ``stop``, the bell, or ``idle`` seconds, whichever comes first."""
    waits = [asyncio.ensure_future(stop.wait())] + ([asyncio.ensure_future(bell.wait())] if bell else [])
    try:
        await asyncio.wait(waits, timeout=idle, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiting in waits:
            waiting.cancel()


def main(config: Config) -> None:
    """Run until SIGTERM/SIGINT, finishing the batch in hand (its rows stay leased, then retried); a fatal
    error (``health.WorkerFatal``) propagates, and ``linkblog worker`` exits non-zero with its message.
    With more than one delivery process (``processes.count``), the others are forked first and run
    deliveries only; one of them stopping stops the worker (see ``processes``). All of them run at a lower
    CPU priority than the web (``processes.lower_priority``)."""

    logging.basicConfig(level=config.get("logging", "level"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    processes.lower_priority(config)
    total = processes.count(config)
    if total > 1:
        _import_what_deliveries_use(config)
    children = processes.fork_deliverers(total - 1, lambda: asyncio.run(_until_signalled(config, inbox=False)))
    log.info("linkblog worker started (%d delivery process%s)", total, "" if total == 1 else "es")
    try:
        asyncio.run(_until_signalled(config, inbox=True, children=children))
    finally:
        processes.stop_all(children)
    log.info("linkblog worker stopped")


def _import_what_deliveries_use(config: Config) -> None:
    """Before forking: load the modules a delivery process needs on its first delivery (the database dialect,
    the HTTP client's transports, the asyncio backend), so the forks share them instead of each loading its
    own copy. Nothing here connects anywhere."""
    import anyio._backends._asyncio  # noqa: F401  (httpcore's async backend, loaded on first use)

    make_engine(config.database_url).dispose()
    AsyncFetchClient(delivery_policy(config))


async def _until_signalled(config: Config, *, inbox: bool, children: list[int] | None = None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if not children:
        await run(config, stop, inbox=inbox)
        return
    work = asyncio.create_task(run(config, stop, inbox=inbox))
    watching = asyncio.create_task(processes.watch(children, stop))
    await asyncio.wait([work, watching], return_when=asyncio.FIRST_COMPLETED)
    if watching.done() and watching.exception() is not None:
        stop.set()  # this process finishes its batch in hand, then reports the child's end
        await asyncio.gather(work, return_exceptions=True)
        raise health.WorkerFatal(str(watching.exception()))
    watching.cancel()
    await asyncio.gather(watching, return_exceptions=True)
    await work  # a stop ends the watch at once; the work still finishes its batch in hand
