"""Keyset paging for newest-first lists: the cursor, the condition every list and the API share, a page."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, Table, and_, func, or_, select

KIND_RANK = {"b": 0, "w": 1}
CURSOR_RE = re.compile(r"^(\d{20})([bw])(\d{1,18})$")


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


def after(cursor: Cursor | None, kind: str, time_col: Any, id_col: Any) -> ColumnElement[bool] | None:
    """Keyset condition: items strictly after ``cursor`` in (time desc, kind rank desc, id desc) order.
    None on the first page. Pages, feeds, the outbox and the API all page with this one condition."""
    if cursor is None:
        return None
    if kind == cursor.kind:
        return or_(time_col < cursor.at, and_(time_col == cursor.at, id_col < cursor.id))
    if KIND_RANK[kind] < KIND_RANK[cursor.kind]:
        return time_col <= cursor.at
    return time_col < cursor.at


def newest_after(query: Select[Any], cursor: Cursor | None, kind: str, time_col: Any, id_col: Any,
                 limit: int) -> Select[Any]:
    """``query`` newest first from just after ``cursor``, at most ``limit`` rows: every list's keyset read."""
    condition = after(cursor, kind, time_col, id_col)
    if condition is not None:
        query = query.where(condition)
    return query.order_by(time_col.desc(), id_col.desc()).limit(limit)


def page_of(items: list[dict[str, Any]], size: int) -> Page:
    """The first ``size`` of ``items`` (fetched one beyond, to know whether there is more) in list order."""
    items.sort(key=lambda i: (i["sort_at"], KIND_RANK[i["kind"]], i["id"]), reverse=True)
    shown = items[:size]
    more = len(items) > size
    next_cursor = Cursor(shown[-1]["sort_at"], shown[-1]["kind"], shown[-1]["id"]).encode() if more else None
    return Page(shown, next_cursor)


def matching(table: Table, **values: object) -> list[ColumnElement[bool]]:
    """Equality conditions for the API's list filters; a None value leaves its column out."""
    return [table.c[name] == value for name, value in values.items() if value is not None]


def count_where(conn: Connection, table: Table, where: list[ColumnElement[bool]]) -> int:
    """How many rows the filtered list holds in all, for the API's ``total``."""
    return conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()
