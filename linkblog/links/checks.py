"""Link checks: which saved links still answer, moved, died, or now show something else.

A check asks HEAD first (cheap, conditional on the ETag / Last-Modified seen before), and GET when HEAD
is refused or fails in any way a server might mean "not HEAD" (405, 501, other 4xx/5xx), or when the page
text must be read (no reference yet, or the validators changed). The GET reads at most
``[links] check_max_bytes`` of text-like pages, never PDFs or images. Every request goes through the
guarded client (``federation/net``'s ``probe``): the same address policy, redirect limit and one total
deadline per request, with a User-Agent that names the site.

``decide`` is the state machine, pure and with the time passed in (tests drive it over a simulated month):

- 2xx / 304 after a permanent redirect (301/308) elsewhere: **redirected**, with the target;
- 404 / 410, directly or at the end of redirects: **gone**;
- 2xx whose text resembles the reference less than ``changed_resemblance``: **changed**;
- 2xx / 304 otherwise: **ok** (temporary redirects are not a move);
- time-outs, refused connections, 5xx and other 4xx: a failure; after ``unreachable_checks`` failures in a
  row spanning ``unreachable_days`` days: **unreachable** (until then the state stays, the reason says why);
- 429 / 503 with Retry-After: no verdict, the link (and the rest of its host in this run) waits as asked.

The reference is a fingerprint of the page text at the first good check (``resemblance``); a ``Run`` takes an
optional ``reference(conn, bookmark_id) -> str | None`` (e.g. ``links.copies.copy_text``) so a saved copy's
text is the reference instead, wherever there is one.

Politeness (``turns``): up to ``[links] check_concurrency`` links are checked at once, each on another host;
one host is asked one link at a time, at most once per ``per_host_gap`` seconds, hosts taking turns; next
checks are spread by ±25 % so a big import's checks spread over days.
"""
from __future__ import annotations

import logging
import random
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable

from sqlalchemy import Connection, Engine, exists, func, insert, literal, select, update

from ..config import Config
from ..db import utcnow
from ..federation.net import FetchClient, FetchError, FetchPolicy, Probed, parse_retry_after
from ..models import BOOKMARKS, LINK_CHECKS
from ..states import LinkState
from ..urls import host_of
from . import wayback
from .resemblance import TEXT_TYPES, fingerprint, page_text, resemblance
from .resemblance import VERSION as FINGERPRINT_VERSION
from .turns import Pacer, Turns, interleaved

log = logging.getLogger(__name__)
GONE = frozenset({404, 410})
PERMANENT = frozenset({301, 308})
WAIT = frozenset({429, 503})
JITTER = 0.25                       # next checks spread over interval x (1 ± JITTER)
MIN_WAIT = timedelta(minutes=1)     # a Retry-After of 0 still waits this long
WAYBACK_NEW_DAYS = 2                # a first check asks the archive only for bookmarks saved this recently
REFUSED = ("BlockedAddress", "BadURL")   # our own guard said no: the link is not at fault
WINDOW = 20                         # check_due(spread=True) picks a batch from this many batches' worth of due links
SLACK = 1.0                         # ... and, when every host there is inside its gap, those due within this of the first
REASON_MAX = 1000                   # characters of a reason kept (error texts quote URLs)

Reference = Callable[[Connection, int], "str | None"]


@dataclass(frozen=True)
class Rules:
    """The ``[links]`` settings a check needs, read once."""

    interval: timedelta = timedelta(days=30)
    retry: timedelta = timedelta(hours=24)
    unreachable_checks: int = 3
    unreachable_days: timedelta = timedelta(days=7)
    changed_below: float = 0.2
    per_host_gap: float = 10.0
    retry_after_cap: float = 86400.0
    batch: int = 50
    concurrency: int = 8
    wayback_save: bool = False
    wayback_endpoint: str = "https://web.archive.org/save/"

    @classmethod
    def of(cls, config: Config) -> Rules:
        links = lambda key: config.get("links", key)  # noqa: E731
        return cls(interval=timedelta(days=links("check_interval_days")), retry=timedelta(hours=links("retry_hours")),
                   unreachable_checks=links("unreachable_checks"),
                   unreachable_days=timedelta(days=links("unreachable_days")),
                   changed_below=links("changed_resemblance") / 100, per_host_gap=float(links("per_host_gap")),
                   retry_after_cap=float(links("retry_after_cap")), batch=links("check_batch"),
                   concurrency=links("check_concurrency"),
                   wayback_save=links("wayback_save"), wayback_endpoint=links("wayback_endpoint"))


def link_policy(config: Config) -> FetchPolicy:
    """One total deadline per request (``check_timeout``), the text cap, a few more redirects than fetches
    of documents allow (moved sites chain http -> https -> www -> new path), a connection per concurrent check
    (and one for the Wayback Machine's save requests)."""
    timeout = float(config.get("links", "check_timeout"))
    return FetchPolicy.for_site(
        config.base_url, allow_private_addresses=config.get("federation", "allow_private_addresses"),
        connect_timeout=min(5.0, timeout), read_timeout=timeout, total_timeout=timeout,
        max_body_bytes=config.get("links", "check_max_bytes"), max_redirects=5,
        max_connections=config.get("links", "check_concurrency") + 1)


@dataclass(frozen=True)
class Link:
    """A bookmark's link and what the last check left (``checked`` False: never checked)."""

    bookmark_id: int
    url: str
    saved_at: datetime
    checked: bool = False
    state: str = LinkState.OK
    failures: int = 0
    first_failure_at: datetime | None = None
    etag: str | None = None
    last_modified: str | None = None
    fingerprint: str = ""


@dataclass(frozen=True)
class Seen:
    """What one check saw; ``error`` set when it got no answer."""

    status: int | None = None
    url: str = ""
    moved_to: str | None = None      # the target, when a permanent redirect was on the way
    temporary_to: str | None = None  # the target of temporary redirects only
    etag: str | None = None
    last_modified: str | None = None
    text: str | None = None          # the page text, when it was read
    error: str = ""
    refused: bool = False            # our guard refused the address or URL
    retry_after: float | None = None


def _seen(link: Link, answer: Probed) -> Seen:
    headers = answer.headers
    moved = answer.url if answer.hops and answer.url != link.url else None
    permanent = moved is not None and any(status in PERMANENT for _, status in answer.hops)
    text = None
    if answer.body:
        text = page_text(answer.body, headers.get("content-type", ""))
    return Seen(status=answer.status, url=answer.url, moved_to=moved if permanent else None,
                temporary_to=None if permanent else moved, etag=(headers.get("etag") or None) and headers["etag"][:255],
                last_modified=(headers.get("last-modified") or None) and headers["last-modified"][:64], text=text,
                retry_after=parse_retry_after(headers.get("retry-after")) if answer.status in WAIT else None)


def look(client: FetchClient, link: Link) -> Seen:
    """HEAD, then GET where HEAD is refused or the text is needed; conditional when we have validators."""
    conditional = {}
    if link.fingerprint and link.etag:
        conditional["If-None-Match"] = link.etag
    if link.fingerprint and link.last_modified:
        conditional["If-Modified-Since"] = link.last_modified
    try:
        head = client.probe(link.url, method="HEAD", headers=conditional)
        if head.status in (304, 429) or (head.status == 503 and "retry-after" in head.headers):
            return _seen(link, head)
        if 200 <= head.status < 300:
            same = ((link.etag and head.headers.get("etag") == link.etag)
                    or (link.last_modified and head.headers.get("last-modified") == link.last_modified))
            if link.fingerprint and same:
                return _seen(link, head)
        return _seen(link, client.probe(link.url, method="GET", headers=conditional, body_types=TEXT_TYPES))
    except FetchError as exc:
        return Seen(error=f"{exc.reason}", refused=type(exc).__name__ in REFUSED)


def asked_to_wait(seen: Seen) -> bool:
    """A 429, or a 503 with Retry-After: the site is busy, which says nothing about the link."""
    return seen.status == 429 or (seen.status == 503 and seen.retry_after is not None)


def decide(link: Link, seen: Seen, now: datetime, rules: Rules, *, reference_text: str | None = None,
           jitter: Callable[[], float] = random.random) -> dict[str, Any]:
    """The link_checks columns after ``seen``: the state machine of the module docstring, pure."""
    def spread(base: timedelta) -> datetime:
        return now + base * (1 - JITTER + 2 * JITTER * jitter())

    state = link.state
    values: dict[str, Any] = {"checked_at": now, "last_status": seen.status}
    if seen.refused:
        values.update(reason=f"Not checked: {seen.error}", next_check_at=spread(rules.interval))
    elif asked_to_wait(seen):
        wait = min(seen.retry_after if seen.retry_after is not None else rules.retry.total_seconds(),
                   rules.retry_after_cap)
        values.update(reason=f"HTTP {seen.status}: the site asked us to wait {int(wait)} s; checking again then",
                      next_check_at=now + max(timedelta(seconds=wait), MIN_WAIT))
    elif seen.error or seen.status is None or not (200 <= seen.status < 300 or seen.status == 304
                                                    or seen.status in GONE):
        failures = link.failures + 1
        first = (link.first_failure_at if link.failures else None) or now
        if failures >= rules.unreachable_checks and now - first >= rules.unreachable_days:
            state = LinkState.UNREACHABLE
        values.update(failures=failures, first_failure_at=first, next_check_at=spread(rules.retry),
                      reason=f"{seen.error or f'HTTP {seen.status}'} ({failures} failed "
                             f"check{'s' if failures > 1 else ''} in a row since {first:%Y-%m-%d})")
    elif seen.status in GONE:
        state = LinkState.GONE
        values.update(failures=0, first_failure_at=None, redirect_url=None, next_check_at=spread(rules.interval),
                      reason=f"HTTP {seen.status}" + (f" at {seen.url}" if seen.url and seen.url != link.url else ""))
    else:
        state = _answered(link, seen, values, rules, reference_text)
        values.update(failures=0, first_failure_at=None, next_check_at=spread(rules.interval))
    values["state"] = state
    if state != link.state or not link.checked:
        values["state_since"] = now
    return values


def _answered(link: Link, seen: Seen, values: dict[str, Any], rules: Rules, reference_text: str | None) -> str:
    """The state of a link that answered 2xx or 304, and the columns that go with it."""
    if seen.status != 304:
        values.update(etag=seen.etag, last_modified=seen.last_modified)
    score = None
    if seen.text is not None:
        # The page's sketch, made once: stored at a first check and compared with the reference (an older
        # release's fingerprint alone is compared with a sketch made its own way).
        current = (fingerprint(seen.text) if reference_text is not None or not link.fingerprint
                   or link.fingerprint.startswith(FINGERPRINT_VERSION) else "")
        if reference_text is not None:
            score = resemblance(seen.text, reference_text, reference_is_fingerprint=False, now_fingerprint=current)
        elif link.fingerprint:
            score = resemblance(seen.text, link.fingerprint, now_fingerprint=current)
        if not link.fingerprint:
            values["fingerprint"] = current
    if seen.moved_to:
        values.update(redirect_url=seen.moved_to, reason=f"Moved permanently to {seen.moved_to}")
        return LinkState.REDIRECTED
    values["redirect_url"] = None
    if score is not None and score < rules.changed_below:
        values["reason"] = (f"The page text now resembles what was first seen there {score:.0%} "
                            f"(below {rules.changed_below:.0%})")
        return LinkState.CHANGED
    if score is None and link.state == LinkState.CHANGED:
        values["reason"] = "Not modified since the change was seen"
        return LinkState.CHANGED
    values["reason"] = f"Answers after a temporary redirect to {seen.temporary_to}" if seen.temporary_to else ""
    return LinkState.OK


# --- which links, and writing what was found -----------------------------------------------------------

_COLUMNS = (BOOKMARKS.c.id, BOOKMARKS.c.url, BOOKMARKS.c.created_at, LINK_CHECKS.c.bookmark_id.label("checked"),
            LINK_CHECKS.c.state, LINK_CHECKS.c.failures, LINK_CHECKS.c.first_failure_at, LINK_CHECKS.c.etag,
            LINK_CHECKS.c.last_modified, LINK_CHECKS.c.fingerprint)


def _link(row: Any) -> Link:
    if row.checked is None:
        return Link(row.id, row.url, row.created_at)
    return Link(row.id, row.url, row.created_at, True, row.state, row.failures, row.first_failure_at, row.etag,
                row.last_modified, row.fingerprint)


def _unchecked() -> Any:
    return ~exists().where(LINK_CHECKS.c.bookmark_id == BOOKMARKS.c.id)


def due(conn: Connection, now: datetime, limit: int) -> list[Link]:
    """Links due for a check: those whose next check has come (over ``ix_link_checks_next``), then never
    checked ones, newest bookmarks first (a new save is checked soon)."""
    joined = BOOKMARKS.join(LINK_CHECKS, LINK_CHECKS.c.bookmark_id == BOOKMARKS.c.id)
    rows = list(conn.execute(select(*_COLUMNS).select_from(joined).where(LINK_CHECKS.c.next_check_at <= now)
                             .order_by(LINK_CHECKS.c.next_check_at).limit(limit)))
    if len(rows) < limit:
        outer = BOOKMARKS.outerjoin(LINK_CHECKS, LINK_CHECKS.c.bookmark_id == BOOKMARKS.c.id)
        rows += conn.execute(select(*_COLUMNS).select_from(outer).where(LINK_CHECKS.c.bookmark_id.is_(None))
                             .order_by(BOOKMARKS.c.id.desc()).limit(limit - len(rows)))
    return [_link(r) for r in rows]


def due_count(conn: Connection, now: datetime) -> int:
    checked = conn.execute(select(func.count()).select_from(LINK_CHECKS)
                           .where(LINK_CHECKS.c.next_check_at <= now)).scalar_one()
    return checked + conn.execute(select(func.count()).select_from(BOOKMARKS).where(_unchecked())).scalar_one()


def every(conn: Connection, after_id: int, limit: int) -> list[Link]:
    """All links, by bookmark id, a batch at a time (``links check --all``)."""
    outer = BOOKMARKS.outerjoin(LINK_CHECKS, LINK_CHECKS.c.bookmark_id == BOOKMARKS.c.id)
    return [_link(r) for r in conn.execute(select(*_COLUMNS).select_from(outer).where(BOOKMARKS.c.id > after_id)
                                           .order_by(BOOKMARKS.c.id).limit(limit))]


def save(engine: Engine, link: Link, values: dict[str, Any]) -> None:
    """Write one check's result in its own short transaction (a deleted bookmark's result is dropped)."""
    if "reason" in values:
        values["reason"] = values["reason"][:REASON_MAX]
    with engine.begin() as conn:
        if link.checked:
            conn.execute(update(LINK_CHECKS).where(LINK_CHECKS.c.bookmark_id == link.bookmark_id).values(**values))
        else:  # one statement that writes the row only while the bookmark is still there
            columns = list(values)
            still_there = select(BOOKMARKS.c.id, *(literal(values[name], LINK_CHECKS.c[name].type) for name in columns))
            conn.execute(insert(LINK_CHECKS).from_select(["bookmark_id", *columns],
                                                         still_there.where(BOOKMARKS.c.id == link.bookmark_id)))


# --- a run: politeness per host, several hosts at once (``turns``) -------------------------------------

@dataclass
class Summary:
    """What a run did, for the CLI's last lines and the worker's log."""

    checked: int = 0
    states: Counter = field(default_factory=Counter)        # the state each checked link ended in
    changes: list[tuple[int, str, str, str]] = field(default_factory=list)  # (id, url, before, after)
    waiting: int = 0                                        # put off: their host asked us to wait

    def line(self) -> str:
        parts = ", ".join(f"{n} {state}" for state, n in sorted(self.states.items()))
        return (f"Checked {self.checked} link{'s' if self.checked != 1 else ''}" + (f": {parts}" if parts else "")
                + f"; {len(self.changes)} changed state" + (f"; {self.waiting} waiting (Retry-After)"
                                                              if self.waiting else "") + ".")


@dataclass
class Run:
    """One checking session: the client, the rules, the clock and the per-host state it keeps."""

    engine: Engine
    client: FetchClient
    rules: Rules
    now: Callable[[], datetime] = utcnow
    pacer: Pacer | None = None
    reference: Reference | None = None
    jitter: Callable[[], float] = random.random
    summary: Summary = field(default_factory=Summary)
    held: dict[str, datetime] = field(default_factory=dict)   # hosts that sent Retry-After, until when

    def __post_init__(self) -> None:
        if self.pacer is None:
            self.pacer = Pacer(self.rules.per_host_gap)
        self._lock = threading.Lock()            # the summary, written from the checking threads
        self._wayback = threading.Lock()         # one save request to the archive at a time

    def batch(self, links: Iterable[Link], each: Callable[[Link], None] | None = None) -> bool:
        """Check ``links``: up to ``rules.concurrency`` hosts at once, each host's links one after another
        with its gap between them (``turns``); False if told to stop before the end."""
        assert self.pacer is not None
        return Turns(links, lambda link: link.url, self.pacer, self.rules.concurrency).run(self.one, self.waiting, each)

    def ready(self, links: Iterable[Link], limit: int) -> list[Link]:
        """At most ``limit`` of ``links``: one per host (any number with no gap) of the hosts that may be
        asked now, and every link of a host that asked us to wait (put off without a request). When no host
        may be asked yet: one link of each host whose turn comes within ``SLACK`` seconds of the soonest."""
        assert self.pacer is not None
        now, hosts, chosen = self.now(), set(), []
        later: dict[str, tuple[float, Link]] = {}
        for link in links:
            host = host_of(link.url)
            if self.held.get(host, now) <= now:
                if host in hosts and self.pacer.gap > 0:
                    continue
                delay = self.pacer.delay(host)
                if delay > 0:
                    later.setdefault(host, (delay, link))
                    continue
                hosts.add(host)
            chosen.append(link)
            if len(chosen) == limit:
                break
        if not chosen and later:
            soonest = min(delay for delay, _ in later.values())
            chosen = [link for delay, link in sorted(later.values(), key=lambda pair: pair[0])
                      if delay <= soonest + SLACK][:limit]
        return chosen

    def waiting(self, link: Link) -> bool:
        """When the link's host asked us to wait (Retry-After): put the link off to then, without a request."""
        host = host_of(link.url)
        now = self.now()
        if host not in self.held or self.held[host] <= now:
            return False
        save(self.engine, link, {"checked_at": now, "state": link.state, "next_check_at": self.held[host],
                                 "reason": f"Waiting: {host} asked us to wait (Retry-After)"})
        with self._lock:
            self.summary.waiting += 1
        return True

    def one(self, link: Link) -> None:
        """Check one link now and record what was found (on a checking thread; its host's turn was taken)."""
        try:
            seen = look(self.client, link)
        except Exception as exc:  # noqa: BLE001  (one strange answer must neither crash nor stall the run)
            log.exception("checking %s failed unexpectedly", link.url)
            seen = Seen(error=f"unexpected {type(exc).__name__} while checking")
        now = self.now()
        reference_text = None
        if self.reference is not None and seen.text is not None:
            with self.engine.connect() as conn:
                reference_text = self.reference(conn, link.bookmark_id)
        values = decide(link, seen, now, self.rules, reference_text=reference_text, jitter=self.jitter)
        if asked_to_wait(seen):
            self.held[host_of(link.url)] = values["next_check_at"]   # read once this host's check has ended
        if not link.checked and self.rules.wayback_save and now - link.saved_at <= timedelta(days=WAYBACK_NEW_DAYS):
            values["archive_requested_at"] = now
            with self._wayback:
                note = wayback.request_save(self.client, self.rules.wayback_endpoint, link.url)
            values["reason"] = f"{values.get('reason', '')}; {note}".lstrip("; ")
        save(self.engine, link, values)
        with self._lock:
            self.summary.checked += 1
            self.summary.states[values["state"]] += 1
            if asked_to_wait(seen):
                self.summary.waiting += 1
            if link.checked and values["state"] != link.state:
                self.summary.changes.append((link.bookmark_id, link.url, link.state, values["state"]))


def check_due(run: Run, limit: int | None = None, each: Callable[[Link], None] | None = None, *,
              spread: bool = False) -> int:
    """Check the due links (at most ``limit``, default one batch); returns how many were taken.

    With ``spread`` (the worker and ``linkblog links check``), the batch is picked from the first
    ``WINDOW`` x ``limit`` due links: at most one link per host, and only hosts whose turn has come (not
    inside their gap, not waiting for a Retry-After), so the batch's checks all run side by side and one big
    host never holds up the rest; the links left stay due and come first in a later batch. When no host of
    the window may be asked yet, the batch is one link of each host whose turn comes soonest (it waits for
    those turns: every call makes progress)."""
    size = limit or run.rules.batch
    with run.engine.connect() as conn:
        links = due(conn, run.now(), size * WINDOW if spread else size)
    if spread:
        links = run.ready(links, size) or links[:size]
    run.batch(links, each)
    return len(links)


def check_all(run: Run, each: Callable[[Link], None] | None = None) -> int:
    """Check every link now, a batch at a time; returns how many."""
    after, total = 0, 0
    while True:
        with run.engine.connect() as conn:
            links = every(conn, after, run.rules.batch)
        if not links:
            return total
        if not run.batch(links, each):
            return total + len(links)
        after, total = links[-1].bookmark_id, total + len(links)


__all__ = ["Link", "Pacer", "Reference", "Rules", "Run", "Seen", "Summary", "asked_to_wait", "check_all", "check_due",
           "decide", "due", "due_count", "every", "interleaved", "link_policy", "look", "save"]
