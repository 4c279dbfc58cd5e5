"""The worker's page-copy step: claim due fetches politely, fetch, extract, store, and record why when it fails.

Politeness lives in the database, so every worker shares it (``copy_hosts``): a host is fetched by one worker at a
time (``busy_until``, a lease that outlives a killed worker) and not again before ``next_at`` (``[copies]
host_gap``, or the host's Retry-After). Imported bookmarks also take a turn of one global row (``IMPORT_PACE``):
at most one import fetch per ``[copies] import_interval``, so 50,000 imported links trickle in, never at once;
bookmarks saved by hand go first. A failure that may pass (timeouts, lost connections, 429, 5xx) is retried with
backoff (Retry-After honoured up to ``[copies] retry_after_cap``) until ``[copies] max_attempts``; anything else
fails at once. Every outcome leaves a sentence in ``page_copies.reason``.
"""
from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, or_, select, update

from ..config import Config
from ..db import insert_ignoring, utcnow
from ..federation.net import media_type
from ..models import BOOKMARKS, COPY_HOSTS, PAGE_COPIES
from ..states import CopyState, Visibility
from . import copies, sandbox
from .fetch import Answer, PageFetcher

log = logging.getLogger(__name__)
IMPORT_PACE = "(imports)"  # the copy_hosts row that paces imported bookmarks (no host name has parentheses)
BASE_BACKOFF = 60.0  # seconds before the second try; each later one waits four times longer
LONG_AGO = datetime(2000, 1, 1)


@dataclass(frozen=True)
class Job:
    bookmark_id: int
    url: str
    host: str
    from_import: bool
    attempts: int
    visibility: str


def backoff(attempts: int) -> timedelta:
    """Delay before try number ``attempts + 1``: 1 min, 4 min, 16 min, about 1 h, about 4 h."""
    return timedelta(seconds=BASE_BACKOFF * 4 ** max(0, attempts - 1))


def _take_turn(conn: Any, host: str, now: datetime, lease: timedelta, gap: timedelta | None = None) -> bool:
    """Hold ``host`` (a host name, or ``IMPORT_PACE``) if it is free and due; ``gap`` instead of a lease moves
    its next turn on at once (the import pace)."""
    insert_ignoring(conn, COPY_HOSTS, {"host": host, "next_at": LONG_AGO, "busy_until": None}, ["host"])
    values = {"next_at": now + gap} if gap is not None else {"busy_until": now + lease}
    return conn.execute(update(COPY_HOSTS).where(
        COPY_HOSTS.c.host == host, COPY_HOSTS.c.next_at <= now,
        or_(COPY_HOSTS.c.busy_until.is_(None), COPY_HOSTS.c.busy_until < now)).values(**values)).rowcount == 1


def claim(engine: Engine, config: Config, now: datetime, limit: int) -> list[Job]:
    """Up to ``limit`` due fetches, at most one per host, each with its host (and import pace) held."""
    lease = timedelta(seconds=config.get("copies", "lease"))
    pace = timedelta(seconds=config.get("copies", "import_interval"))
    jobs: list[Job] = []
    with engine.connect() as conn:
        due = conn.execute(
            select(PAGE_COPIES.c.bookmark_id, PAGE_COPIES.c.host, PAGE_COPIES.c.from_import, PAGE_COPIES.c.attempts,
                   BOOKMARKS.c.url, BOOKMARKS.c.visibility)
            .join(BOOKMARKS, BOOKMARKS.c.id == PAGE_COPIES.c.bookmark_id)
            .where(PAGE_COPIES.c.state == CopyState.QUEUED, PAGE_COPIES.c.next_attempt_at <= now,
                   or_(PAGE_COPIES.c.claimed_until.is_(None), PAGE_COPIES.c.claimed_until < now))
            .order_by(PAGE_COPIES.c.from_import, PAGE_COPIES.c.next_attempt_at, PAGE_COPIES.c.bookmark_id)
            .limit(limit * 8)).all()
    hosts: set[str] = set()
    pace_spent = False
    with engine.begin() as conn:  # one short transaction: one commit a round, whatever it claims
        for row in due:
            if len(jobs) >= limit:
                break
            if row.host in hosts or (row.from_import and pace_spent):
                continue
            # Rows come saved-first, so every worker takes saved pages' hosts, then the import pace, then one
            # imported page's host: the same order everywhere, so two workers never wait on each other in a cycle.
            if row.from_import:
                pace_spent = True  # one imported page a round at most
                if not _take_turn(conn, IMPORT_PACE, now, lease, gap=pace):
                    continue
            if not _take_turn(conn, row.host, now, lease):
                if row.from_import:
                    _give_back_pace(conn, now)
                    pace_spent = False
                continue
            claimed = conn.execute(update(PAGE_COPIES).where(
                PAGE_COPIES.c.bookmark_id == row.bookmark_id, PAGE_COPIES.c.state == CopyState.QUEUED,
                or_(PAGE_COPIES.c.claimed_until.is_(None), PAGE_COPIES.c.claimed_until < now))
                .values(claimed_until=now + lease)).rowcount == 1
            if not claimed:  # changed since it was read (deleted, or its address edited): give the turns back
                _release(conn, row.host)
                if row.from_import:
                    _give_back_pace(conn, now)
                    pace_spent = False
                continue
            hosts.add(row.host)
            jobs.append(Job(row.bookmark_id, row.url, row.host, row.from_import, row.attempts, row.visibility))
    return jobs


def _give_back_pace(conn: Any, now: datetime) -> None:
    """The import pace's turn was taken but no imported page claimed: the next one may go at once."""
    conn.execute(update(COPY_HOSTS).where(COPY_HOSTS.c.host == IMPORT_PACE).values(next_at=now))


def _release(conn: Any, host: str) -> None:
    """Give back a host's turn taken this round (its ``next_at`` was not moved)."""
    conn.execute(update(COPY_HOSTS).where(COPY_HOSTS.c.host == host).values(busy_until=None))


def _stored(job: Job, answer: Answer, config: Config) -> dict[str, Any]:
    """The columns of a fetched page (extraction failures become a reason, never an exception)."""
    fetched = answer.fetched
    assert fetched is not None
    content_type = fetched.headers.get("content-type", "")
    values: dict[str, Any] = {"final_url": fetched.url[:2048], "status": fetched.status,
                              "content_type": content_type[:100]}
    try:
        page = sandbox.read_page(media_type(content_type), fetched.body, content_type, fetched.url,
                                 config.get("copies", "max_text_chars"), config.get("copies", "extract_timeout"))
    except sandbox.ReadFailed as exc:  # a page no parser survives (in time) must not stop the worker
        log.warning("could not read the page of bookmark %s: %s", job.bookmark_id, exc)
        return {**values, "reason": str(exc), "failed": True}
    return {**values, "title": page.title[:500], "description": page.description, "site_name": page.site_name[:500],
            "canonical_url": page.canonical_url[:2048], "language": page.language[:35],
            "favicon": page.favicon[:2048], "html_z": copies.compress(page.html) if page.html else None,
            "text": page.text, "reason": page.note}


def finish(engine: Engine, config: Config, job: Job, answer: Answer, now: datetime) -> str:
    """Record one fetch's outcome and free its host; returns the state recorded, or "gone" when the row was deleted
    or put back in the queue meanwhile (nothing recorded)."""
    attempts = job.attempts + 1
    gap = timedelta(seconds=config.get("copies", "host_gap"))
    wait = None
    if answer.retry_after is not None:
        wait = timedelta(seconds=min(answer.retry_after, config.get("copies", "retry_after_cap")))
    values: dict[str, Any] = {"attempts": attempts, "claimed_until": None, "status": answer.status}
    if answer.fetched is not None:
        stored = _stored(job, answer, config)
        unread = stored.pop("failed", False)
        values.update(stored, state=CopyState.FAILED if unread else CopyState.DONE, fetched_at=now)
    elif answer.retry and attempts < config.get("copies", "max_attempts"):
        later = now + max(backoff(attempts), wait or timedelta(0))
        values.update(state=CopyState.QUEUED, next_attempt_at=later,
                      reason=f"{answer.reason}; will try again after {later:%Y-%m-%d %H:%M} UTC (try {attempts})")
    else:
        tries = f" (gave up after {attempts} tries)" if answer.retry else ""
        values.update(state=CopyState.FAILED, reason=answer.reason + tries)
    with engine.begin() as conn:
        # Only while still claimed: an address edited meanwhile put the row back in the queue (claim cleared),
        # and the old address's page must not be kept as its copy.
        kept = conn.execute(update(PAGE_COPIES).where(PAGE_COPIES.c.bookmark_id == job.bookmark_id,
                                                      PAGE_COPIES.c.claimed_until.is_not(None))
                            .values(**values)).rowcount == 1
        conn.execute(update(COPY_HOSTS).where(COPY_HOSTS.c.host == job.host)
                     .values(busy_until=None, next_at=now + max(gap, wait or timedelta(0))))
        if kept and values["state"] == CopyState.DONE and values.get("title"):
            _fill_title(conn, config, job, values["title"])
    return values["state"] if kept else "gone"


def _fill_title(conn: Any, config: Config, job: Job, title: str) -> None:
    """A bookmark saved without a title gets the page's; followers hear of it as of any edit (not for imports,
    which were never announced one by one)."""
    if copies.fill_blank_title(conn, job.bookmark_id, title) and not job.from_import \
            and job.visibility != Visibility.PRIVATE:
        from ..federation import publish

        publish.bookmark_saved(conn, config, job.bookmark_id, before=job.visibility)


def run_once(engine: Engine, config: Config, fetcher: PageFetcher, now: datetime | None = None) -> int:
    """Claim and fetch one round of due pages (distinct hosts, in parallel threads); returns how many."""
    now = now or utcnow()
    jobs = claim(engine, config, now, config.get("copies", "concurrency"))
    if not jobs:
        return 0

    def one(job: Job) -> str:
        answer = fetcher.fetch(job.url)
        return finish(engine, config, job, answer, max(now, utcnow()))

    if len(jobs) == 1:
        one(jobs[0])
    else:
        with ThreadPoolExecutor(len(jobs), thread_name_prefix="page-copy") as pool:
            list(pool.map(one, jobs))
    return len(jobs)


__all__ = ["IMPORT_PACE", "Job", "backoff", "claim", "finish", "run_once"]
