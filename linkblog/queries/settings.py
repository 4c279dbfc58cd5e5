"""Reads of what the owner saved on /admin/settings (the stored settings, the avatar) and of what the
about page shows."""
from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, func, select

from ..models import AVATARS, BOOKMARKS, FOLLOWERS, FOLLOWING, OWNER_TABLE, SETTINGS, WEEKNOTES
from ..states import FollowState, Visibility, WeeknoteStatus
from .owner import is_the_owner


def stored_settings(conn: Connection) -> dict[str, str]:
    """``section.key`` -> the stored JSON text, as saved (``settings.py`` parses and checks them)."""
    return {row.key: row.value for row in conn.execute(select(SETTINGS.c.key, SETTINGS.c.value))}


def avatar(conn: Connection, digest: str) -> Row[Any] | None:
    """One stored avatar's bytes and media type, by its digest (its URL)."""
    return conn.execute(select(AVATARS.c.data, AVATARS.c.media_type).where(AVATARS.c.digest == digest)).first()


def profile(conn: Connection) -> Row[Any] | None:
    """What the owner's pages and documents show of them: names, bio (source and HTML) and avatar."""
    return conn.execute(select(OWNER_TABLE.c.username, OWNER_TABLE.c.display_name, OWNER_TABLE.c.summary,
                               OWNER_TABLE.c.summary_html, OWNER_TABLE.c.avatar_digest, AVATARS.c.media_type)
                        .outerjoin(AVATARS, AVATARS.c.digest == OWNER_TABLE.c.avatar_digest)
                        .where(is_the_owner())).first()


def public_counts(conn: Connection) -> dict[str, int]:
    """The counts the about page shows, each one anyone can already learn: public bookmarks, published
    public weeknotes, and accepted followers and follows (the collections' totalItems)."""
    def count(table: Any, *where: Any) -> int:
        return conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()

    return {
        "bookmarks": count(BOOKMARKS, BOOKMARKS.c.visibility == Visibility.PUBLIC),
        "weeknotes": count(WEEKNOTES, WEEKNOTES.c.status == WeeknoteStatus.PUBLISHED,
                           WEEKNOTES.c.visibility == Visibility.PUBLIC),
        "followers": count(FOLLOWERS, FOLLOWERS.c.state == FollowState.ACCEPTED),
        "following": count(FOLLOWING, FOLLOWING.c.state == FollowState.ACCEPTED),
    }
