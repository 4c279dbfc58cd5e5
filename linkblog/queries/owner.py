"""Reads of the owner's row (its login, profile, move) and of the login rate limit."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, func, select

from ..models import LOGIN_FAILURES, OWNER_SESSIONS, OWNER_TABLE, REMOTE_ACTORS


# The single owner's row: `linkblog init` and a backup restore write it with this id, and every read and
# write of the owner names it with this constant.
OWNER_ID = 1


def is_the_owner() -> ColumnElement[bool]:
    """The WHERE clause that picks the owner's row, for reads here and for the services' updates."""
    return OWNER_TABLE.c.id == OWNER_ID


def owner_row(conn: Connection, *columns: Any) -> Row[Any] | None:
    """The owner's row (only ``columns`` when given); None before `linkblog init`."""
    return conn.execute(select(*(columns or (OWNER_TABLE,))).where(is_the_owner())).first()


def author_name(conn: Connection) -> str | None:
    """The name feeds credit: the display name, else the user name; None before `linkblog init`."""
    row = owner_row(conn, OWNER_TABLE.c.display_name, OWNER_TABLE.c.username)
    return None if row is None else row.display_name or row.username


@dataclass(frozen=True)
class Moved:
    """Where the owner's fediverse account went, and when (handle and page from the stored actor)."""

    uri: str
    handle: str
    url: str | None
    at: datetime | None

    @property
    def href(self) -> str:
        """Its page (else its id) when that is an http(s) URL: a stored address came from another server."""
        return next((u for u in (self.url, self.uri) if u and u.startswith(("https://", "http://"))), "")

    @property
    def name(self) -> str:
        return f"@{self.handle}" if self.handle else self.uri


def moved(conn: Connection) -> Moved | None:
    """The owner's move, for the "This account has moved" notice; None when it has not moved."""
    row = conn.execute(select(OWNER_TABLE.c.moved_to, OWNER_TABLE.c.moved_at, REMOTE_ACTORS.c.handle,
                              REMOTE_ACTORS.c.url)
                       .outerjoin(REMOTE_ACTORS, REMOTE_ACTORS.c.uri == OWNER_TABLE.c.moved_to)
                       .where(is_the_owner())).first()
    if row is None or not row.moved_to:
        return None
    return Moved(row.moved_to, row.handle or "", row.url, row.moved_at)


def login_failures(conn: Connection, address: str, since: datetime) -> int:
    """Failed logins from ``address`` (a rate-limit key: an IPv4 address or an IPv6 /64) since ``since``, for
    the rate limit every web process shares."""
    return conn.execute(select(func.count()).select_from(LOGIN_FAILURES)
                        .where(LOGIN_FAILURES.c.address == address, LOGIN_FAILURES.c.at >= since)).scalar_one()


def account_login_failures(conn: Connection, since: datetime) -> int:
    """Failed logins with the owner's user name since ``since``, from every address together."""
    return conn.execute(select(func.count()).select_from(LOGIN_FAILURES)
                        .where(LOGIN_FAILURES.c.account.is_(True), LOGIN_FAILURES.c.at >= since)).scalar_one()


def session_is_live(conn: Connection, session_id: str, epoch: int, since: datetime) -> bool:
    """Whether the session stored as ``session_id`` (the token's hash) still stands: its row exists (no
    logout ended it), it started after ``since`` and the owner's session epoch (bumped by a new password or
    "log out everywhere") is the one it logged in with."""
    live = (select(OWNER_SESSIONS.c.id)
            .where(OWNER_SESSIONS.c.id == session_id, OWNER_SESSIONS.c.created_at >= since).exists())
    row = conn.execute(select(OWNER_TABLE.c.session_epoch, live).where(is_the_owner())).first()
    return row is not None and row[0] == epoch and bool(row[1])
