"""Reads for the owner's dashboard: how many of everything, one grouped count per table."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, func, select

from ..config import VISIBILITIES
from ..models import API_TOKENS, BOOKMARKS, TAGS, WEEKNOTES
from ..states import WeeknoteStatus


@dataclass(frozen=True)
class Counts:
    by_visibility: dict[str, int]  # every visibility, 0 when none
    drafts: int
    published: int
    tags: int
    active_tokens: int
    to_read: int

    @property
    def bookmarks(self) -> int:
        return sum(self.by_visibility.values())


def counts(conn: Connection) -> Counts:
    by_visibility = dict.fromkeys(VISIBILITIES, 0)
    by_visibility.update(conn.execute(select(BOOKMARKS.c.visibility, func.count())
                                      .group_by(BOOKMARKS.c.visibility)).all())
    notes = dict(conn.execute(select(WEEKNOTES.c.status, func.count()).group_by(WEEKNOTES.c.status)).all())
    tags = conn.execute(select(func.count()).select_from(TAGS)).scalar_one()
    active_tokens = conn.execute(select(func.count()).select_from(API_TOKENS)
                                 .where(API_TOKENS.c.revoked_at.is_(None))).scalar_one()
    to_read = conn.execute(select(func.count()).select_from(BOOKMARKS).where(BOOKMARKS.c.toread.is_(True))).scalar_one()
    return Counts(by_visibility, notes.get(WeeknoteStatus.DRAFT, 0), notes.get(WeeknoteStatus.PUBLISHED, 0), tags,
                  active_tokens, to_read)
