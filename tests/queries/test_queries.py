"""The read layer (linkblog/queries/) on SQLite and PostgreSQL, where the pages' tests do not already pin it:
the API's lists page with the same keyset as the pages, the owner's row, and fixed statement counts."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Iterator

import pytest
from sqlalchemy import delete, event, insert, update

from linkblog import bookmarks, tokens, weeknotes
from linkblog.db import utcnow
from linkblog.models import Owner, Weeknote
from linkblog.queries import admin, owner as owner_reads
from linkblog.queries import bookmarks as bookmark_reads, weeknotes as weeknote_reads
from linkblog.queries.paging import Cursor
from linkblog.queries.stream import stream

START = datetime(2026, 3, 1, 9, 30, 15, 123456)


def seed(make_bookmark, offsets: list[int]) -> list[int]:  # noqa: ANN001
    """Bookmarks ``offsets`` hours after START (equal offsets share a time), visibilities taking turns."""
    return [make_bookmark(f"https://example.org/{n}", visibility=("public", "private", "public", "unlisted")[n % 4],
                          created_at=START + timedelta(hours=hours)) for n, hours in enumerate(offsets)]


def pages(read, size: int) -> Iterator[tuple[list[int], str | None]]:  # noqa: ANN001
    """Every page of a keyset-paged read: (ids, next cursor)."""
    cursor = None
    while True:
        page = read(size, cursor)
        yield [item["id"] for item in page.items], page.next
        if page.next is None:
            return
        cursor = Cursor.decode(page.next)


@pytest.mark.parametrize("size", [1, 2, 3, 50])
def test_the_api_list_pages_exactly_like_the_stream(engine, make_bookmark, size):
    seed(make_bookmark, [0, 1, 1, 1, 2, 3, 3, 5])  # ties at 1 and 3 hours: the condition must break them by id
    with engine.connect() as conn:
        for owner, filters in ((True, bookmark_reads.Filters()),
                               (False, bookmark_reads.Filters(visibility="public"))):
            api = list(pages(lambda n, c: bookmark_reads.filtered(conn, filters, size=n, cursor=c), size))
            home = list(pages(lambda n, c: stream(conn, owner=owner, size=n, cursor=c, kinds=("b",)), size))
            assert api == home
            assert sum(len(ids) for ids, _ in api) == bookmark_reads.filtered_count(conn, filters)


def test_the_api_weeknote_list_pages_like_the_owners_weeknotes_page(engine):
    with engine.begin() as conn:
        for n, status in enumerate(["published", "draft", "published", "published", "draft"]):
            weeknotes.save(conn, weeknotes.WeeknoteInput(week=f"2026-W{n + 10:02d}", title=f"Note {n}",
                                                         body="Body.", status=status, visibility="public"))
    with engine.connect() as conn:
        for size in (1, 2, 5):
            api, index, before = [], [], None
            while True:
                page = weeknote_reads.filtered(conn, weeknote_reads.Filters(), size=size, before=before)
                same = weeknote_reads.index(conn, owner=True, size=size, before=before)
                api.append(([n["week"] for n in page.items], page.next))
                index.append(([n["week"] for n in same.items], same.next))
                if page.next is None:
                    break
                before = page.next
            assert api == index
            assert [w for weeks, _ in api for w in weeks] == [f"2026-W{n:02d}" for n in range(14, 9, -1)]
        drafts = weeknote_reads.Filters(status="draft")
        assert [n["week"] for n in weeknote_reads.filtered(conn, drafts, size=5).items] == ["2026-W14", "2026-W11"]
        assert weeknote_reads.filtered_count(conn, drafts) == 2


def test_the_owner_row_and_the_name_feeds_credit(engine):
    with engine.connect() as conn:
        assert owner_reads.owner_row(conn).id == owner_reads.OWNER_ID
        assert owner_reads.owner_row(conn, Owner.username).username == "owner"
        assert owner_reads.author_name(conn) == "The Owner"
        assert owner_reads.moved(conn) is None
    with engine.begin() as conn:
        conn.execute(update(Owner).where(owner_reads.is_the_owner()).values(display_name=""))
    with engine.connect() as conn:
        assert owner_reads.author_name(conn) == "owner"
    with engine.begin() as conn:
        conn.execute(delete(Owner))
    with engine.connect() as conn:
        assert owner_reads.owner_row(conn) is None
        assert owner_reads.author_name(conn) is None
        assert owner_reads.moved(conn) is None


def test_login_failures_count_one_address_since_a_moment(engine):
    from linkblog.models import LoginFailure

    now = utcnow()
    with engine.begin() as conn:
        conn.execute(insert(LoginFailure), [{"address": "192.0.2.1", "at": now - timedelta(minutes=m)}
                                            for m in (1, 2, 30)] + [{"address": "192.0.2.2", "at": now}])
    with engine.connect() as conn:
        assert owner_reads.login_failures(conn, "192.0.2.1", now - timedelta(minutes=10)) == 2
        assert owner_reads.login_failures(conn, "192.0.2.3", now - timedelta(minutes=10)) == 0


def statements(engine, read) -> tuple[Any, int]:  # noqa: ANN001
    seen: list[str] = []

    def note(conn, cursor, statement, *args: Any) -> None:  # noqa: ANN001
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    try:
        with engine.connect() as conn:
            result = read(conn)
    finally:
        event.remove(engine, "before_cursor_execute", note)
    return result, len(seen)


def test_the_dashboard_counts_take_two_statements_whatever_there_is(engine, make_bookmark):
    empty, few = statements(engine, admin.counts)
    assert empty == admin.Counts({"public": 0, "unlisted": 0, "followers": 0, "private": 0}, 0, 0, 0, 0, 0)
    ids = seed(make_bookmark, [0, 1, 2, 3, 4, 5])
    with engine.begin() as conn:
        bookmarks.edit(conn, ids[0], bookmarks.validate({"url": "https://example.org/0", "tags": "a b",
                                                    "toread": True}))
        conn.execute(insert(Weeknote), [{"week": "2026-W10", "status": "draft"},
                                        {"week": "2026-W11", "status": "published", "published_at": utcnow()}])
        tokens.create_token(conn, "phone")
        tokens.create_token(conn, "laptop")
        tokens.revoke_token(conn, "laptop")
    counts, many = statements(engine, admin.counts)
    assert few == many == 2  # by visibility, then every other count as scalar subqueries of one SELECT
    assert counts == admin.Counts({"public": 3, "unlisted": 1, "followers": 0, "private": 2}, 1, 1, 2, 1, 1)
    assert counts.bookmarks == 6


@pytest.mark.parametrize("filters", [bookmark_reads.Filters(), bookmark_reads.Filters(tag="a", toread=False),
                                     bookmark_reads.Filters(visibility="private")])
def test_an_api_list_page_is_one_statement_whatever_its_size(engine, make_bookmark, filters):
    ids = seed(make_bookmark, list(range(30)))
    with engine.begin() as conn:
        for n, bookmark_id in enumerate(ids):
            bookmarks.edit(conn, bookmark_id, bookmarks.validate({"url": f"https://example.org/{n}", "tags": "a",
                                                            "visibility": ("public", "private")[n % 2]}))
    small, one = statements(engine, lambda conn: bookmark_reads.filtered(conn, filters, size=2))
    large, also_one = statements(engine, lambda conn: bookmark_reads.filtered(conn, filters, size=25))
    assert one == also_one == 1 and len(small.items) == 2 and len(large.items) > 2
