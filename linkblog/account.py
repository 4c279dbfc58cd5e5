"""The owner's account rules, in one place for the command line, the web and restores: which user names are
allowed, how long a password must be, and what setting a new password does (new hash, every session out)."""
from __future__ import annotations

import re

from sqlalchemy import Connection, select, update

from .models import Owner
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
