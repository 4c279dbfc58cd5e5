"""/search finds weeknotes too (their own full-text index, migration 0009) and says how many results it found,
on SQLite (FTS5) and PostgreSQL (tsvector); readers find only published public weeknotes."""
from __future__ import annotations

import re
from html import unescape

import pytest
from sqlalchemy import select

from linkblog import weeknotes
from linkblog.models import WEEKNOTES


def note(engine, week: str, body: str, *, title: str = "", status: str = "published",  # noqa: ANN001
         visibility: str = "public") -> None:
    with engine.begin() as conn:
        item = weeknotes.validate({"week": week, "title": title, "body": body, "status": status,
                                   "visibility": visibility})
        existing = conn.execute(select(WEEKNOTES.c.id).where(WEEKNOTES.c.week == week)).scalar()
        weeknotes.save(conn, item, existing)


def page(client, q: str) -> str:  # noqa: ANN001
    response = client.get("/search", query_string={"q": q})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def words(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def weeks_found(html: str) -> list[str]:
    section = html.split('<section class="search-weeknotes"', 1)
    return re.findall(r'<a href="/weeknotes/(\d{4}-W\d{2})">', section[1].split("</section>", 1)[0]) if len(section) > 1 else []


def test_search_finds_weeknotes_by_title_and_text_and_counts_everything(client, engine, make_bookmark):
    note(engine, "2026-W45", "We went sailing on the fjord.", title="Boats")
    note(engine, "2026-W46", "Nothing about water.", title="Quiet week")
    note(engine, "2026-W47", "More **sailing**, and rope knots.")
    make_bookmark("https://sail.example/", "Sailing for beginners")
    make_bookmark("https://sail2.example/", "A sailing club", annotation="Sailing again.")
    make_bookmark("https://other.example/", "Cooking")
    html = page(client, "sailing")
    assert "Found 2 links and 2 weeknotes." in words(html)
    assert sorted(weeks_found(html)) == ["2026-W45", "2026-W47"]
    assert "Week 47 · 16 Nov – 22 Nov 2026" in words(html)  # an untitled note shows its week
    assert "Found 0 links and 1 weeknote." in words(page(client, "fjord"))
    assert weeks_found(page(client, "boats")) == ["2026-W45"]  # by title


def test_edits_and_deletes_reach_the_index(client, engine):
    note(engine, "2026-W45", "First draft about kayaks.")
    assert weeks_found(page(client, "kayaks")) == ["2026-W45"]
    note(engine, "2026-W45", "Now about canoes.")
    assert weeks_found(page(client, "kayaks")) == [] and weeks_found(page(client, "canoes")) == ["2026-W45"]
    with engine.begin() as conn:
        weeknotes.remove_week(conn, "2026-W45")
    assert weeks_found(page(client, "canoes")) == []


def test_readers_find_only_published_public_weeknotes_the_owner_all(client, owner, engine):
    note(engine, "2026-W44", "zeppelin public")
    note(engine, "2026-W45", "zeppelin draft", status="draft")
    note(engine, "2026-W46", "zeppelin unlisted", visibility="unlisted")
    note(engine, "2026-W47", "zeppelin private", visibility="private")
    reader = page(client, "zeppelin")
    assert weeks_found(reader) == ["2026-W44"] and "Found 0 links and 1 weeknote." in words(reader)
    mine = page(owner, "zeppelin")
    assert sorted(weeks_found(mine)) == ["2026-W44", "2026-W45", "2026-W46", "2026-W47"]
    assert "Found 0 links and 4 weeknotes." in words(mine)


def test_the_count_covers_every_page_and_hides_what_readers_cannot_see(client, owner, engine, make_bookmark):
    for i in range(25):
        make_bookmark(f"https://many.example/{i}", f"Heron sighting {i}")
    make_bookmark("https://many.example/secret", "Heron secret", visibility="private")
    assert "Found 25 links and 0 weeknotes." in words(page(client, "heron"))
    assert "Found 26 links and 0 weeknotes." in words(page(owner, "heron"))


def test_a_count_past_the_cap_is_a_floor_that_never_overstates(owner, engine, make_bookmark, monkeypatch):
    """Counting is bounded (COUNT_CAP matches): past it the page says "at least N", and N is never more than
    there are, for readers (public ones only) as for the owner."""
    from linkblog.queries import search as search_reads

    for i in range(6):
        make_bookmark(f"https://cap.example/{i}", f"Egret {i}")
    make_bookmark("https://cap.example/hidden", "Egret hidden", visibility="private")
    with engine.connect() as conn:
        assert search_reads.count(conn, "egret", owner=True, cap=3) == search_reads.Found(4, more=True)
        reader = search_reads.count(conn, "egret", owner=False, cap=3)
        assert reader.more and 3 <= reader.count <= 4
        assert search_reads.count(conn, "egret", owner=True, cap=10) == search_reads.Found(7, more=False)
        assert search_reads.count(conn, "egret", owner=False, cap=10) == search_reads.Found(6, more=False)
    monkeypatch.setattr(search_reads, "COUNT_CAP", 3)
    assert "Found at least 4 links and 0 weeknotes." in words(page(owner, "egret"))


def test_weeknotes_matching_by_title_come_before_newer_ones_matching_by_text(client, engine):
    note(engine, "2026-W40", "A quiet week at home.", title="Kayaks")
    note(engine, "2026-W44", "We looked at kayaks in the shop.")
    note(engine, "2026-W45", "Nothing of note.")
    assert weeks_found(page(client, "kayaks")) == ["2026-W40", "2026-W44"]


def test_postgres_compresses_weeknote_bodies_with_lz4(engine):
    """A permalink reads every weeknote's body to find the ones listing its link: lz4 decompresses several times
    faster than pglz (migration 0017)."""
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL storage only")
    from sqlalchemy import text

    note(engine, "2026-W30", " ".join(f"word{i} https://example.org/{i}" for i in range(600)))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT pg_column_compression(body) FROM weeknotes")).scalar_one() == "lz4"
