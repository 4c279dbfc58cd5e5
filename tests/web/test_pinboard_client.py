"""A Pinboard client nobody here wrote, ``pinboard`` from PyPI (lionheart/pinboard.py), against /v1/ served
over real HTTP on loopback (werkzeug's server in a thread, the app of the test on either database).

The client always sends ``?auth_token=USER:TOKEN&format=json`` to a base URL it keeps in a module constant,
``pinboard.pinboard.PINBOARD_API_ENDPOINT``: pointing it at our server is the one setting it has, so the test
sets that constant. Its known quirks are worked around here, never in the server:
- ``tags.delete`` and ``tags.rename`` return the answer ``{"result": "done"}`` itself rather than True (its
  README says True, but it only turns ``result_code`` into True, and Pinboard answers those two with ``result``);
- a post without tags reads back as ``tags == ['']`` (it splits "" on a space);
- ``posts.all(fromdt=..., todt=...)`` would send a datetime as Python's ``str()``: the test passes the text;
- ``posts.get(dt=date)`` sends the date as a whole time (``2026-12-07T00:00:00Z``), which is read as its day.
"""
from __future__ import annotations

import threading
from datetime import date, datetime
from typing import Iterator

import pinboard
import pinboard.pinboard
import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from linkblog import tokens
from linkblog.models import BOOKMARKS

from tests.support.app import OWNER


@pytest.fixture
def served(app) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture
def pb(served, engine, monkeypatch) -> pinboard.Pinboard:
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    monkeypatch.setattr(pinboard.pinboard, "PINBOARD_API_ENDPOINT", f"{served}/v1/")
    with engine.begin() as conn:
        secret = tokens.create_token(conn, "pinboard-py", pinboard=True)
    return pinboard.Pinboard(f"{OWNER}:{secret}")


def _row(engine, url: str) -> dict | None:
    with engine.connect() as conn:
        row = conn.execute(select(BOOKMARKS).where(BOOKMARKS.c.url == url)).mappings().first()
    return dict(row) if row else None


def test_posts_through_the_pinboard_client(pb, engine):
    assert pb.posts.add(url="https://example.org/one", description="One", extended="Notes on *one*",
                        tags=["python", "web"], shared=True, toread=False,
                        dt=datetime(2026, 12, 5, 9, 30)) is True
    assert pb.posts.add(url="https://example.org/two", description="Two", shared=False, toread=True) is True
    with pytest.raises(pinboard.PinboardError, match="item already exists"):
        pb.posts.add(url="https://example.org/two", description="Again", replace=False)
    with pytest.raises(pinboard.PinboardError, match="missing url"):
        pb.posts.add(url="", description="Nothing")
    row = _row(engine, "https://example.org/one")
    assert (row["title"], row["annotation"], row["tags_text"], row["visibility"]) == (
        "One", "Notes on *one*", "python web", "public")
    assert row["created_at"] == datetime(2026, 12, 5, 9, 30)

    [one] = pb.posts.get(url="https://example.org/one")["posts"]
    assert (one.url, one.description, one.extended, one.tags, one.shared, one.toread) == (
        "https://example.org/one", "One", "Notes on *one*", ["python", "web"], True, False)
    assert one.time == datetime(2026, 12, 5, 9, 30)
    by_day = pb.posts.get(dt=date(2026, 12, 5))
    assert [p.url for p in by_day["posts"]] == ["https://example.org/one"]
    assert by_day["date"] == datetime(2026, 12, 5, 9, 30)

    recent = pb.posts.recent(count=5)
    assert [p.url for p in recent["posts"]] == ["https://example.org/two", "https://example.org/one"]
    two = recent["posts"][0]
    assert (two.shared, two.toread, two.tags) == (False, True, [""])  # the client's split of no tags
    assert [p.url for p in pb.posts.recent(tag=["python"])["posts"]] == ["https://example.org/one"]

    everything = pb.posts.all()
    assert sorted(p.url for p in everything) == ["https://example.org/one", "https://example.org/two"]
    assert [p.url for p in pb.posts.all(tag=["web"], results=10)] == ["https://example.org/one"]
    # fromdt is not among the fields the client formats: a datetime would go as str() ("2026-12-06 00:00:00").
    assert [p.url for p in pb.posts.all(fromdt="2026-12-06T00:00:00Z")] == ["https://example.org/two"]

    dates = pb.posts.dates()["dates"]
    assert dates[date(2026, 12, 5)] == 1 and sum(dates.values()) == 2

    before = pb.posts.update()
    assert isinstance(before, datetime)

    # Edit through the client's own Bookmark.save (a posts/add that replaces), moving the saved time too.
    one.description = "One, renamed"
    one.tags = ["python", "reading"]
    one.time = datetime(2026, 12, 1, 8, 0)
    assert one.save(update_time=True) is True
    row = _row(engine, "https://example.org/one")
    assert (row["title"], row["tags_text"], row["created_at"]) == ("One, renamed", "python reading",
                                                                   datetime(2026, 12, 1, 8, 0))
    assert pb.posts.update() >= before

    assert pb.posts.suggest(url="https://example.org/three") == [{"popular": []},
                                                                 {"recommended": ["python", "reading"]}]

    assert pb.posts.delete(url="https://example.org/two") is True
    assert _row(engine, "https://example.org/two") is None
    with pytest.raises(pinboard.PinboardError, match="item not found"):
        pb.posts.delete(url="https://example.org/two")


def test_tags_through_the_pinboard_client(pb, engine):
    pb.posts.add(url="https://example.org/a", description="A", tags=["python", "old"])
    pb.posts.add(url="https://example.org/b", description="B", tags=["old"])
    tags = pb.tags.get()
    assert [(t.name, t.count) for t in tags] == [("old", 2), ("python", 1)]

    assert pb.tags.rename(old="old", new="archive") == {"result": "done"}  # the client's quirk: not True
    assert [(t.name, t.count) for t in pb.tags.get()] == [("archive", 2), ("python", 1)]
    assert _row(engine, "https://example.org/b")["tags_text"] == "archive"

    assert pb.tags.delete(tag="python") == {"result": "done"}
    assert [(t.name, t.count) for t in pb.tags.get()] == [("archive", 2)]
    assert _row(engine, "https://example.org/a")["tags_text"] == "archive"
    assert pb.tags.delete(tag="python") == {"result": "item not found"}


def test_notes_and_a_bad_token_through_the_pinboard_client(pb, served):
    assert pb.notes.list() == {"count": 0, "notes": []}
    with pytest.raises(pinboard.PinboardAuthenticationError):
        pinboard.Pinboard(f"{OWNER}:lb_not-a-token").posts.update()


def test_the_development_servers_request_lines_leave_out_v1_query_strings(pb, caplog):
    """werkzeug's server logs every request line; the token in a /v1/ query string must not be in one."""
    secret = pb.token.partition(":")[2]
    with caplog.at_level("INFO", logger="werkzeug"):
        pb.posts.recent()
    lines = [r.getMessage() for r in caplog.records if r.name == "werkzeug"]
    assert any("GET /v1/posts/recent HTTP/1.1" in line for line in lines), lines
    assert not any(secret in line or "auth_token" in line for line in lines), lines
