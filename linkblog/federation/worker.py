"""The background worker: delivers queued activities and processes received ones, until told to stop.

``linkblog worker`` runs it; ``linkblog serve`` starts one beside the web processes. Several workers (on
several machines, against one PostgreSQL) can run at once: rows are claimed, never shared.

Deliveries, the inbox and page copies (``links.jobs``) are three independent loops: the inbox step fetches
from strangers' servers in a thread (the sync client), deliveries post from the event loop, page copies fetch
and parse in threads of their own, and none waits for another, so a slow peer holding an inbox fetch (up to
``fetch_timeout`` per fetch) never delays a delivery, a big fan-out never delays processing what arrived, and
50,000 imported pages never delay either. Each loop watches the database on its own; a fatal failure in one
stops them all.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from datetime import timedelta
from typing import TYPE_CHECKING, Awaitable, Callable

from sqlalchemy import Engine, select

from ..config import Config
from ..db import make_engine
from ..models import Owner
from ..queries.owner import is_the_owner
from . import delivery, health, objects, retention
from .net import AsyncFetchClient, FetchError, FetchPolicy, warn_if_private_allowed
from .signatures import SignatureAuth

if TYPE_CHECKING:
    from ..links.fetch import PageFetcher

log = logging.getLogger(__name__)
IDLE_SECONDS = 1.0


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


async def run(config: Config, stop: asyncio.Event, *, once: bool = False) -> None:
    """Loop until ``stop``; raises ``health.WorkerFatal`` when the database stays unreachable."""
    engine = make_engine(config.database_url)
    warn_if_private_allowed(log, config.get("federation", "allow_private_addresses"))
    watch = health.DatabaseWatch()
    auth = await asyncio.to_thread(health.with_patience, lambda: owner_auth(engine, config), watch)
    heartbeat = health.Heartbeat(engine)
    stack = contextlib.ExitStack()
    try:
        async with AsyncFetchClient(delivery_policy(config)) as client:
            post = make_poster(client, auth)
            fetcher = _page_fetcher(config)
            stack.callback(lambda: fetcher and fetcher.close())
            halves = [asyncio.create_task(_loop("delivery", lambda: deliver_step(engine, config, post),
                                                stop, once, heartbeat)),
                      asyncio.create_task(_loop("inbox", lambda: inbox_step(engine, config), stop, once, heartbeat)),
                      asyncio.create_task(_loop("pages", lambda: pages_step(engine, config, fetcher),
                                                stop, once, heartbeat))]
            done, pending = await asyncio.wait(halves, return_when=asyncio.FIRST_EXCEPTION)
            for task in pending:   # one half failed for good: the other stops too, the failure propagates
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            for task in done:
                task.result()
    finally:
        stack.close()
        engine.dispose()


def _page_fetcher(config: Config) -> "PageFetcher | None":
    """The page-copy half's client; none when ``[copies] mode`` is off in config.toml (a stored setting
    only stops new copies being queued, so queued ones still finish)."""
    if config.get("copies", "mode") == "off":
        return None
    from ..links.fetch import PageFetcher

    return PageFetcher(config)


async def _loop(name: str, step: Callable[[], Awaitable[int]], stop: asyncio.Event, once: bool,
                heartbeat: health.Heartbeat) -> None:
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
                await asyncio.wait_for(stop.wait(), IDLE_SECONDS)
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
