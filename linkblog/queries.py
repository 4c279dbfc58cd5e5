"""Every read the pages and feeds need, as Core queries over covering indexes; no ORM on hot paths."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable

from sqlalchemy import Connection, and_, func, or_, select

from .markup import text_fragment_url
from .models import Bookmark, BookmarkTag, Owner, RemoteActor, Tag, Weeknote

B = Bookmark.__table__
T = Tag.__table__
BT = BookmarkTag.__table__
W = Weeknote.__table__
OWNER = Owner.__table__
RA = RemoteActor.__table__

KIND_RANK = {"b": 0, "w": 1}
CURSOR_RE = re.compile(r"^(\d{20})([bw])(\d{1,18})$")
BOOKMARK_COLUMNS = (B.c.id, B.c.url, B.c.title, B.c.annotation_html, B.c.quote, B.c.tags_text, B.c.visibility,
                    B.c.toread, B.c.created_at, B.c.updated_at)
WEEKNOTE_COLUMNS = (W.c.id, W.c.week, W.c.title, W.c.body_html, W.c.status, W.c.visibility, W.c.created_at,
                    W.c.updated_at, W.c.published_at)


@dataclass(frozen=True)
class Cursor:
    """Position in a newest-first list: (time, kind, id) of the last item shown."""

    at: datetime
    kind: str
    id: int

    def encode(self) -> str:
        return f"{self.at:%Y%m%d%H%M%S%f}{self.kind}{self.id}"

    @classmethod
    def decode(cls, text: str | None) -> "Cursor | None":
        match = CURSOR_RE.match(text or "")
        if not match:
            return None
        try:
            at = datetime.strptime(match.group(1), "%Y%m%d%H%M%S%f")
        except ValueError:
            return None
        return cls(at, match.group(2), int(match.group(3)))


@dataclass
class Page:
    items: list[dict[str, Any]]
    next: str | None


def _before(cursor: Cursor | None, kind: str, time_col, id_col):  # noqa: ANN001, ANN202
    """Keyset condition: items strictly after ``cursor`` in (time desc, kind rank desc, id desc) order."""
    if cursor is None:
        return None
    if kind == cursor.kind:
        return or_(time_col < cursor.at, and_(time_col == cursor.at, id_col < cursor.id))
    if KIND_RANK[kind] < KIND_RANK[cursor.kind]:
        return time_col <= cursor.at
    return time_col < cursor.at


def bookmark_item(row: Any) -> dict[str, Any]:
    item = dict(row._mapping)
    item["kind"] = "b"
    item["tags"] = item["tags_text"].split()
    item["sort_at"] = item["created_at"]
    item["quote_link"] = text_fragment_url(item["url"], item["quote"]) if item["quote"] else item["url"]
    return item


def weeknote_item(row: Any) -> dict[str, Any]:
    item = dict(row._mapping)
    item["kind"] = "w"
    item["sort_at"] = item["published_at"] or item["created_at"]
    return item


def _bookmarks(conn: Connection, where: list, cursor: Cursor | None, limit: int) -> list[dict[str, Any]]:
    condition = _before(cursor, "b", B.c.created_at, B.c.id)
    query = select(*BOOKMARK_COLUMNS).where(*where)
    if condition is not None:
        query = query.where(condition)
    query = query.order_by(B.c.created_at.desc(), B.c.id.desc()).limit(limit)
    return [bookmark_item(r) for r in conn.execute(query)]


def _weeknotes(conn: Connection, owner: bool, cursor: Cursor | None, limit: int) -> list[dict[str, Any]]:
    where = [W.c.status == "published"] if owner else [W.c.status == "published", W.c.visibility == "public"]
    condition = _before(cursor, "w", W.c.published_at, W.c.id)
    query = select(*WEEKNOTE_COLUMNS).where(*where)
    if condition is not None:
        query = query.where(condition)
    query = query.order_by(W.c.published_at.desc(), W.c.id.desc()).limit(limit)
    return [weeknote_item(r) for r in conn.execute(query)]


def _page(items: list[dict[str, Any]], size: int) -> Page:
    items.sort(key=lambda i: (i["sort_at"], KIND_RANK[i["kind"]], i["id"]), reverse=True)
    shown = items[:size]
    more = len(items) > size
    next_cursor = Cursor(shown[-1]["sort_at"], shown[-1]["kind"], shown[-1]["id"]).encode() if more else None
    return Page(shown, next_cursor)


def stream(conn: Connection, *, owner: bool, size: int, cursor: Cursor | None = None,
           kinds: Iterable[str] = ("b", "w")) -> Page:
    """Home and the "everything" feed: bookmarks and published weeknotes, newest first."""
    items: list[dict[str, Any]] = []
    if "b" in kinds:
        items += _bookmarks(conn, [] if owner else [B.c.visibility == "public"], cursor, size + 1)
    if "w" in kinds:
        items += _weeknotes(conn, owner, cursor, size + 1)
    return _page(items, size)


def to_read(conn: Connection, *, size: int, cursor: Cursor | None = None) -> Page:
    """The owner's reading list: bookmarks marked to read, newest first (every visibility: only the owner asks)."""
    return _page(_bookmarks(conn, [B.c.toread.is_(True)], cursor, size + 1), size)


def tag_stream(conn: Connection, tag: str, *, owner: bool, size: int, cursor: Cursor | None = None) -> Page:
    tag_id = conn.execute(select(T.c.id).where(T.c.name == tag)).scalar()
    if tag_id is None:
        return Page([], None)
    inner = select(BT.c.bookmark_id, BT.c.created_at).where(BT.c.tag_id == tag_id)
    if not owner:
        inner = inner.where(BT.c.listed.is_(True))
    condition = _before(cursor, "b", BT.c.created_at, BT.c.bookmark_id)
    if condition is not None:
        inner = inner.where(condition)
    inner = inner.order_by(BT.c.created_at.desc(), BT.c.bookmark_id.desc()).limit(size + 1).subquery()
    query = (select(*BOOKMARK_COLUMNS).join(inner, inner.c.bookmark_id == B.c.id)
             .order_by(B.c.created_at.desc(), B.c.id.desc()))
    return _page([bookmark_item(r) for r in conn.execute(query)], size)


def tag_count(conn: Connection, tag: str, *, owner: bool) -> int:
    query = select(func.count()).select_from(BT.join(T, T.c.id == BT.c.tag_id)).where(T.c.name == tag)
    if not owner:
        query = query.where(BT.c.listed.is_(True))
    return conn.execute(query).scalar_one()


def bookmark(conn: Connection, bookmark_id: int) -> dict[str, Any] | None:
    row = conn.execute(select(*BOOKMARK_COLUMNS, B.c.annotation).where(B.c.id == bookmark_id)).first()
    return bookmark_item(row) if row else None


def weeknote(conn: Connection, week: str) -> dict[str, Any] | None:
    row = conn.execute(select(*WEEKNOTE_COLUMNS, W.c.body).where(W.c.week == week)).first()
    return weeknote_item(row) if row else None


def weeknote_exists_publicly(conn: Connection, week: str) -> bool:
    return conn.execute(select(W.c.id).where(W.c.week == week, W.c.status == "published",
                                             W.c.visibility.in_(("public", "unlisted")))).first() is not None


def adjacent_weeknotes(conn: Connection, week: str, *, owner: bool) -> tuple[str | None, str | None]:
    """Previous and next weeknote that the viewer may see (weeks without a note are skipped)."""
    visible = [W.c.status == "published", W.c.visibility.in_(("public", "unlisted"))] if not owner else []
    previous = conn.execute(select(W.c.week).where(W.c.week < week, *visible).order_by(W.c.week.desc())
                            .limit(1)).scalar()
    following = conn.execute(select(W.c.week).where(W.c.week > week, *visible).order_by(W.c.week)
                             .limit(1)).scalar()
    return previous, following


def weeknote_index(conn: Connection, *, owner: bool, size: int, before: str | None = None) -> Page:
    query = select(*WEEKNOTE_COLUMNS)
    if not owner:
        query = query.where(W.c.status == "published", W.c.visibility == "public")
    if before:
        query = query.where(W.c.week < before)
    rows = [weeknote_item(r) for r in conn.execute(query.order_by(W.c.week.desc()).limit(size + 1))]
    more = len(rows) > size
    return Page(rows[:size], rows[size - 1]["week"] if more else None)


def tag_cloud(conn: Connection, *, owner: bool, limit: int = 200) -> list[tuple[str, int]]:
    count = func.count(BT.c.bookmark_id)
    query = select(T.c.name, count).join(BT, BT.c.tag_id == T.c.id)
    if not owner:
        query = query.where(BT.c.listed.is_(True))
    return [(n, c) for n, c in conn.execute(query.group_by(T.c.name).order_by(count.desc(), T.c.name).limit(limit))]


def can_see(visibility: str, owner: bool) -> bool:
    """Pages: public and unlisted for everyone; followers-only and private for the owner alone."""
    return owner or visibility in ("public", "unlisted")


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
    row = conn.execute(select(OWNER.c.moved_to, OWNER.c.moved_at, RA.c.handle, RA.c.url)
                       .outerjoin(RA, RA.c.uri == OWNER.c.moved_to).where(OWNER.c.id == 1)).first()
    if row is None or not row.moved_to:
        return None
    return Moved(row.moved_to, row.handle or "", row.url, row.moved_at)
