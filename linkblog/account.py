"""The owner's account rules, in one place for the command line, the web and restores: which user names are
allowed, how long a password must be, and what setting a new password does (new hash, every session out)."""
from __future__ import annotations

import hashlib
import ipaddress
import re
import secrets
from datetime import datetime

from sqlalchemy import Connection, delete, insert, select, update

from .db import utcnow
from .models import LOGIN_FAILURES, OWNER_SESSIONS, Owner
from .passwords import hash_password
from .queries.owner import is_the_owner

USERNAME_PATTERN = re.compile(r"[a-z0-9_]{1,30}")
USERNAME_RULE = "1 to 30 lower-case letters, digits or underscores"  # for messages: "... must be <rule>"
MIN_PASSWORD_LENGTH = 10


class AccountError(ValueError):
    """The owner's account cannot be changed as asked; the message says why, for the user."""


class PasswordTooShort(AccountError):
    """A new password has fewer than MIN_PASSWORD_LENGTH characters."""


def valid_username(name: str) -> bool:
    """Whether NAME may be the owner's user name (it is in @name@host and in every actor address)."""
    return USERNAME_PATTERN.fullmatch(name) is not None


def check_password(password: str) -> None:
    """Refuse a too-short password before anything is stored (callers check early to answer early)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordTooShort(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")


def login_limit_key(address: str) -> str:
    """Who a failed login is counted against: the IPv4 address, or the /64 network of an IPv6 address (one
    subscriber or server gets a whole /64, so counting single IPv6 addresses would give endless tries).
    An IPv4-mapped IPv6 address counts as its IPv4 address; anything unparsable is its own key."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address[:64]
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if isinstance(ip, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def record_login_failure(conn: Connection, key: str, owner_account: bool) -> None:
    """One failed login from ``key``; ``owner_account`` when the owner's user name was given (it then counts
    toward the per-account limit too)."""
    conn.execute(insert(LOGIN_FAILURES).values(address=key, account=owner_account, at=utcnow()))


def forget_login_failures(conn: Connection, key: str | None = None, before: datetime | None = None) -> None:
    """Drop the failures of ``key`` (after a successful login from there) or those older than ``before``."""
    if key is not None:
        conn.execute(delete(LOGIN_FAILURES).where(LOGIN_FAILURES.c.address == key))
    if before is not None:
        conn.execute(delete(LOGIN_FAILURES).where(LOGIN_FAILURES.c.at < before))


def lift_login_limits(conn: Connection) -> int:
    """Forget every failed login, lifting the per-address and per-account pauses: for the owner at the
    server's shell (``linkblog passwd``), who has shown better than a password that the account is theirs.
    Returns how many failures were forgotten."""
    return conn.execute(delete(LOGIN_FAILURES)).rowcount


def session_id_of(token: str) -> str:
    """The stored id of a session token: only its hash is kept, so a database leak logs no one in."""
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(conn: Connection, expired_before: datetime | None = None) -> str:
    """A new owner session: returns the token for the cookie and stores its hash. Sessions that started
    before ``expired_before`` (past the cookie's lifetime) are pruned on the way."""
    if expired_before is not None:
        conn.execute(delete(OWNER_SESSIONS).where(OWNER_SESSIONS.c.created_at < expired_before))
    token = secrets.token_urlsafe(32)
    conn.execute(insert(OWNER_SESSIONS).values(id=session_id_of(token), created_at=utcnow()))
    return token


def end_session(conn: Connection, token: str) -> None:
    """Log out: the session's row goes, so a copy of its cookie is no longer accepted anywhere."""
    conn.execute(delete(OWNER_SESSIONS).where(OWNER_SESSIONS.c.id == session_id_of(token)))


def end_other_sessions(conn: Connection, keep: str | None = None) -> int:
    """Log out everywhere (but ``keep``, a token, when given): every other session row goes and the session
    epoch moves on, so no cookie issued before survives. Returns the new epoch."""
    query = delete(OWNER_SESSIONS)
    if keep is not None:
        query = query.where(OWNER_SESSIONS.c.id != session_id_of(keep))
    conn.execute(query)
    epoch = conn.execute(select(Owner.session_epoch).where(is_the_owner())).scalar()
    if epoch is None:
        raise AccountError("no owner in this database; run `linkblog init`")
    conn.execute(update(Owner).where(is_the_owner()).values(session_epoch=epoch + 1))
    return epoch + 1


def set_owner_password(conn: Connection, password: str) -> int:
    """Store PASSWORD's hash for the owner and bump the session epoch, so every logged-in session (cookies
    carry the epoch they logged in with) is logged out; returns the new epoch for the caller's own session.
    Runs in the caller's transaction."""
    check_password(password)
    epoch = conn.execute(select(Owner.session_epoch).where(is_the_owner())).scalar()
    if epoch is None:
        raise AccountError("no owner in this database; run `linkblog init`")
    conn.execute(update(Owner).where(is_the_owner()).values(password_hash=hash_password(password),
                                                             session_epoch=epoch + 1))
    return epoch + 1
