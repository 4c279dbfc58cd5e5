"""The background worker: delivers queued activities and processes received ones, until told to stop.

``linkblog worker`` runs it; ``linkblog serve`` starts one beside the web processes. Several workers (on
several machines, against one PostgreSQL) can run at once: rows are claimed, never shared.

Deliveries and the inbox are two independent loops: the inbox step fetches from strangers' servers in a
thread (the sync client), deliveries post from the event loop, and neither waits for the other, so a
slow peer holding an inbox fetch (up to ``fetch_timeout`` per fetch) never delays a delivery, and a big
fan-out never delays processing what arrived. Each loop watches the database on its own; a fatal failure
in either stops both. A third loop, when ``[links] check`` is on, checks saved links that are due
(``links/checks.py``), in a thread, politely per host; it rests a minute when none is due.
"""
from __future__ import annotations

import asyncio
import logging
import signal
import threading
from datetime import timedelta
from typing import Awaitable, Callable

from sqlalchemy import Engine, select

from ..config import Config
from ..db import make_engine
from ..models import Owner
from ..queries.owner import is_the_owner
from . import delivery, health, objects, retention
from .net import AsyncFetchClient, FetchError, FetchPolicy, warn_if_private_allowed
from .signatures import SignatureAuth

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

    async def post(inbox: str, body: bytes) -> delivery.Outcome:
        try:
            answer = await client.post_json(inbox, body, auth=auth)
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
    from ..links import checks
    from .net import FetchClient

    client = FetchClient(checks.link_policy(config))
    run = checks.Run(engine, client, checks.Rules.of(config),
                     pacer=checks.Pacer(float(config.get("links", "per_host_gap")), sleep=halt.wait))
    return (lambda: checks.check_due(run)), client.close


async def run(config: Config, stop: asyncio.Event, *, once: bool = False) -> None:
    """Loop until ``stop``; raises ``health.WorkerFatal`` when the database stays unreachable."""
    engine = make_engine(config.database_url)
    warn_if_private_allowed(log, config.get("federation", "allow_private_addresses"))
    watch = health.DatabaseWatch()
    auth = await asyncio.to_thread(health.with_patience, lambda: owner_auth(engine, config), watch)
    heartbeat = health.Heartbeat(engine)
    halt = threading.Event()
    close_links: Callable[[], None] = lambda: None  # noqa: E731
    watcher: asyncio.Task[None] | None = None
    try:
        async with AsyncFetchClient(delivery_policy(config)) as client:
            post = make_poster(client, auth)
            halves = [asyncio.create_task(_loop("delivery", lambda: deliver_step(engine, config, post),
                                                stop, once, heartbeat)),
                      asyncio.create_task(_loop("inbox", lambda: inbox_step(engine, config), stop, once, heartbeat))]
            if config.get("links", "check"):
                step, close_links = link_checker(engine, config, halt)
                halves.append(asyncio.create_task(_loop("links", lambda: asyncio.to_thread(step), stop, once,
                                                        heartbeat, LINK_IDLE_SECONDS)))
                watcher = asyncio.create_task(_halt_on(stop, halt))
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
        close_links()
        engine.dispose()


async def _halt_on(stop: asyncio.Event, halt: threading.Event) -> None:
    """Tell the links thread to stop (it may be waiting for a host's turn) when the worker stops."""
    await stop.wait()
    halt.set()


async def _loop(name: str, step: Callable[[], Awaitable[int]], stop: asyncio.Event, once: bool,
                heartbeat: health.Heartbeat, idle: float = IDLE_SECONDS) -> None:
    """Run ``step`` until stopped, resting ``IDLE_SECONDS`` when it found nothing; each half of the
    worker has its own loop and its own database watch, so one half being slow never holds the other."""
    watch = health.DatabaseWatch()
    while not stop.is_set():
        try:
            found = await step()
            watch.ok()
        except Exception as exc:  # noqa: BLE001  (a bad row or a database blip must not kill the worker)
            if watch.failed(exc):
                raise watch.fatal(exc) from exc
            log.exception("worker %s step failed; retrying shortly", name)
            found = 0
        await asyncio.to_thread(heartbeat.beat, found)
        if once:
            break
        if not found:
            try:
                await asyncio.wait_for(stop.wait(), idle)
            except asyncio.TimeoutError:
                pass


def main(config: Config) -> None:
    """Run until SIGTERM/SIGINT, finishing the batch in hand (its rows stay leased, then retried); a fatal
    error (``health.WorkerFatal``) propagates, and ``linkblog worker`` exits non-zero with its message."""

    logging.basicConfig(level=config.get("logging", "level"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        log.info("linkblog worker started")
        await run(config, stop)
        log.info("linkblog worker stopped")

    asyncio.run(runner())
