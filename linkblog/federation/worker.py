"""The background worker: delivers queued activities and processes received ones, until told to stop.

``linkblog worker`` runs it; ``linkblog serve`` starts one beside the web processes. Several workers (on
several machines, against one PostgreSQL) can run at once: rows are claimed, never shared.
"""
from __future__ import annotations

import asyncio
import logging
import signal
from datetime import timedelta

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


def delivery_policy(config: Config) -> FetchPolicy:
    timeout = float(config.get("federation", "delivery_timeout"))
    return FetchPolicy.for_site(
        config.base_url, allow_private_addresses=config.get("federation", "allow_private_addresses"),
        connect_timeout=min(5.0, timeout), read_timeout=timeout, total_timeout=timeout * 2,
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


async def run_cycle(engine: Engine, config: Config, post: delivery.Poster) -> int:
    """One step of everything the worker does; returns how much work it found (0 means idle)."""
    fed = lambda key: config.get("federation", key)  # noqa: E731
    done = await delivery.run_once(
        engine, post, concurrency=fed("delivery_concurrency"), max_attempts=fed("max_attempts"),
        retry_after_cap=fed("retry_after_cap"), unavailable_after=timedelta(days=fed("unavailable_after_days")),
        lease=timedelta(seconds=fed("delivery_lease")))
    done += await asyncio.to_thread(_process_inbox, engine, config)
    done += await asyncio.to_thread(retention.prune_when_due, engine, config)   # hourly; a no-op in between
    return done


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
    async with AsyncFetchClient(delivery_policy(config)) as client:
        post = make_poster(client, auth)
        while not stop.is_set():
            try:
                found = await run_cycle(engine, config, post)
                watch.ok()
            except Exception as exc:  # noqa: BLE001  (a bad row or a database blip must not kill the worker)
                if watch.failed(exc):
                    engine.dispose()
                    raise watch.fatal(exc) from exc
                log.exception("worker cycle failed; retrying shortly")
                found = 0
            await asyncio.to_thread(heartbeat.beat, found)
            if once:
                break
            if not found:
                try:
                    await asyncio.wait_for(stop.wait(), IDLE_SECONDS)
                except asyncio.TimeoutError:
                    pass
    engine.dispose()


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
