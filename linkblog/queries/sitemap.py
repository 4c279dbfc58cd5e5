"""Reads for the sitemap: public items only (never unlisted, followers-only, private or drafts), three statements."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, select

from ..models import Bookmark, BookmarkTag, Tag, Weeknote

B = Bookmark.__table__
BT = BookmarkTag.__table__
T = Tag.__table__
W = Weeknote.__table__


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
    marks = conn.execute(select(B.c.id, B.c.updated_at).where(B.c.visibility == "public")
                         .order_by(B.c.created_at.desc(), B.c.id.desc())).all()
    notes = conn.execute(select(W.c.week, W.c.updated_at).where(W.c.status == "published", W.c.visibility == "public")
                         .order_by(W.c.week.desc())).all()
    tags = conn.execute(select(T.c.name, func.max(BT.c.created_at)).join(BT, BT.c.tag_id == T.c.id)
                        .where(BT.c.listed.is_(True)).group_by(T.c.name).order_by(T.c.name)).all()
    return Sitemap([(i, m) for i, m in marks], [(w, m) for w, m in notes], [(n, m) for n, m in tags])
