"""Reads for the sitemap: public items only (never unlisted, followers-only, private or drafts), three statements."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, select

from ..models import BOOKMARKS, BOOKMARK_TAGS, TAGS, WEEKNOTES
from ..states import Visibility, WeeknoteStatus


@dataclass(frozen=True)
class Sitemap:
    bookmarks: list[tuple[int, datetime]]  # (id, updated), newest first
    weeknotes: list[tuple[str, datetime]]  # (week, updated), latest week first
    tags: list[tuple[str, datetime]]  # (name, newest public bookmark), by name

    def latest(self) -> datetime | None:
        """When the home page last changed: the newest change of any item listed."""
        moments = [m for _, m in self.bookmarks] + [m for _, m in self.weeknotes]
        return max(moments) if moments else None


def sitemap(conn: Connection) -> Sitemap:
    marks = conn.execute(select(BOOKMARKS.c.id, BOOKMARKS.c.updated_at)
                         .where(BOOKMARKS.c.visibility == Visibility.PUBLIC)
                         .order_by(BOOKMARKS.c.created_at.desc(), BOOKMARKS.c.id.desc())).all()
    notes = conn.execute(select(WEEKNOTES.c.week, WEEKNOTES.c.updated_at)
                         .where(WEEKNOTES.c.status == WeeknoteStatus.PUBLISHED,
                                WEEKNOTES.c.visibility == Visibility.PUBLIC)
                         .order_by(WEEKNOTES.c.week.desc())).all()
    tags = conn.execute(select(TAGS.c.name, func.max(BOOKMARK_TAGS.c.created_at))
                        .join(BOOKMARK_TAGS, BOOKMARK_TAGS.c.tag_id == TAGS.c.id)
                        .where(BOOKMARK_TAGS.c.listed.is_(True)).group_by(TAGS.c.name).order_by(TAGS.c.name)).all()
    return Sitemap([(i, m) for i, m in marks], [(w, m) for w, m in notes], [(n, m) for n, m in tags])
