"""Reads for the owner's dashboard: how many of everything, what needs attention, this week's note and the
latest responses. A fixed number of statements whatever the number of rows (the counts are scalar
subqueries of one SELECT), so the owner's home page costs the same with ten bookmarks or a hundred thousand."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Sequence

from sqlalchemy import Connection, RowMapping, func, or_, select

from ..config import VISIBILITIES
from ..db import utcnow
from ..models import (API_TOKENS, BOOKMARKS, DELIVERIES, FOLLOWERS, FOLLOWING, INTERACTIONS, REMOTE_HOSTS, TAGS,
                      WEEKNOTES)
from ..states import DeliveryState, FollowState, InteractionState, Visibility, WeeknoteStatus
from . import fediverse

RECENT_INTERACTIONS = 5   # responses listed on the dashboard; the rest are on /admin/interactions
HOSTS_SHOWN = 5           # servers in trouble named on the dashboard; the rest are on /admin/deliveries
GAVE_UP_RECENTLY = timedelta(days=7)  # a delivery given up longer ago than this no longer asks for attention


@dataclass(frozen=True)
class Counts:
    by_visibility: dict[str, int]  # every visibility, 0 when none
    drafts: int
    published: int
    tags: int
    active_tokens: int
    to_read: int
    followers: int = 0
    following: int = 0

    @property
    def bookmarks(self) -> int:
        return sum(self.by_visibility.values())

    @property
    def weeknotes(self) -> int:
        return self.drafts + self.published


@dataclass(frozen=True)
class Attention:
    """What waits for the owner: each number is 0 when all is well."""

    follow_requests: int
    pending_replies: int
    retrying: int            # deliveries queued again after a failed try
    gave_up: int             # deliveries given up in the last GAVE_UP_RECENTLY
    hosts: Sequence[RowMapping]  # servers failing or marked unavailable, unavailable first (HOSTS_SHOWN of them)
    host_count: int

    @property
    def any(self) -> bool:
        return bool(self.follow_requests or self.pending_replies or self.retrying or self.gave_up
                    or self.host_count)


@dataclass(frozen=True)
class Home:
    counts: Counts
    attention: Attention
    note: dict[str, Any] | None        # this week's weeknote, if there is one
    saved_this_week: int               # public bookmarks saved this week (what the note's links come from)
    recent: list[dict[str, Any]]       # the latest likes, boosts and replies, newest first
    workers: fediverse.Workers         # the federation worker's heartbeat: silent means not running


# A server the delivery log lists under "Servers in trouble".
_IN_TROUBLE = or_(REMOTE_HOSTS.c.unavailable.is_(True), REMOTE_HOSTS.c.failing_since.is_not(None))


def _count(table: Any, *where: Any) -> Any:
    return select(func.count()).select_from(table).where(*where).scalar_subquery()


def counts(conn: Connection) -> Counts:
    return home_counts(conn)[0]


def home_counts(conn: Connection, *, now: datetime | None = None,
                week: tuple[datetime, datetime] | None = None) -> tuple[Counts, dict[str, int]]:
    """Every count of the dashboard: two statements (one grouped by visibility, one of scalar subqueries)."""
    by_visibility = dict.fromkeys(VISIBILITIES, 0)
    by_visibility.update(conn.execute(select(BOOKMARKS.c.visibility, func.count())
                                      .group_by(BOOKMARKS.c.visibility)).all())
    now = now or utcnow()
    start, end = week or (now, now)
    row = conn.execute(select(
        _count(WEEKNOTES, WEEKNOTES.c.status == WeeknoteStatus.DRAFT).label("drafts"),
        _count(WEEKNOTES, WEEKNOTES.c.status == WeeknoteStatus.PUBLISHED).label("published"),
        _count(TAGS).label("tags"),
        _count(API_TOKENS, API_TOKENS.c.revoked_at.is_(None)).label("active_tokens"),
        _count(BOOKMARKS, BOOKMARKS.c.toread.is_(True), BOOKMARKS.c.archived.is_(False)).label("to_read"),
        _count(FOLLOWERS, FOLLOWERS.c.state == FollowState.ACCEPTED).label("followers"),
        _count(FOLLOWING, FOLLOWING.c.state == FollowState.ACCEPTED).label("following"),
        _count(FOLLOWERS, FOLLOWERS.c.state == FollowState.PENDING).label("follow_requests"),
        _count(INTERACTIONS, INTERACTIONS.c.state == InteractionState.PENDING).label("pending_replies"),
        _count(DELIVERIES, DELIVERIES.c.state == DeliveryState.QUEUED, DELIVERIES.c.attempts > 0).label("retrying"),
        _count(DELIVERIES, DELIVERIES.c.state == DeliveryState.GAVE_UP,
               DELIVERIES.c.updated_at >= now - GAVE_UP_RECENTLY).label("gave_up"),
        _count(REMOTE_HOSTS, _IN_TROUBLE).label("hosts"),
        _count(BOOKMARKS, BOOKMARKS.c.visibility == Visibility.PUBLIC, BOOKMARKS.c.created_at >= start,
               BOOKMARKS.c.created_at < end).label("saved_this_week"),
    )).mappings().one()
    return (Counts(by_visibility, row["drafts"], row["published"], row["tags"], row["active_tokens"],
                   row["to_read"], row["followers"], row["following"]), dict(row))


def home(conn: Connection, *, week: str, bounds: tuple[datetime, datetime], now: datetime) -> Home:
    """Everything the dashboard shows, in six statements whatever the number of rows."""
    counted, row = home_counts(conn, now=now, week=bounds)
    hosts = conn.execute(select(REMOTE_HOSTS.c.host, REMOTE_HOSTS.c.unavailable, REMOTE_HOSTS.c.failing_since)
                         .where(_IN_TROUBLE)
                         .order_by(REMOTE_HOSTS.c.unavailable.desc(), REMOTE_HOSTS.c.failing_since,
                                   REMOTE_HOSTS.c.host).limit(HOSTS_SHOWN)).mappings().all()
    note = conn.execute(select(WEEKNOTES.c.id, WEEKNOTES.c.week, WEEKNOTES.c.title, WEEKNOTES.c.body,
                               WEEKNOTES.c.status, WEEKNOTES.c.visibility, WEEKNOTES.c.updated_at)
                        .where(WEEKNOTES.c.week == week)).mappings().first()
    recent = fediverse.interactions(conn, limit=RECENT_INTERACTIONS, offset=0)
    workers = fediverse.workers(conn, now=now)
    attention = Attention(row["follow_requests"], row["pending_replies"], row["retrying"], row["gave_up"], hosts,
                          row["hosts"])
    return Home(counted, attention, dict(note) if note else None, row["saved_this_week"], recent, workers)

