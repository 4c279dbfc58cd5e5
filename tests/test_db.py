"""``db``'s statement helpers: ``insert_ignoring`` keeps its promise (True once, then False for the same key)
now that its statement is built once and reused with the values as parameters, on both databases."""
from __future__ import annotations

from sqlalchemy import func, select

from linkblog.db import insert_ignoring, utcnow
from linkblog.models import INBOX_ACTIVITIES


def _row(uri: str, kind: object = "Like") -> dict:
    return {"uri": uri, "actor_uri": "https://peer.example/users/a", "type": kind, "payload": "{}",
            "state": "queued", "error": "", "received_at": utcnow()}


def test_insert_ignoring_inserts_once_and_then_reports_the_repeat(engine):
    with engine.begin() as conn:
        assert insert_ignoring(conn, INBOX_ACTIVITIES, _row("https://peer.example/1"), ["uri"]) is True
        assert insert_ignoring(conn, INBOX_ACTIVITIES, _row("https://peer.example/1", "Announce"), ["uri"]) is False
        assert insert_ignoring(conn, INBOX_ACTIVITIES, _row("https://peer.example/2", "Follow"), ["uri"]) is True
        assert insert_ignoring(conn, INBOX_ACTIVITIES, _row("https://peer.example/2"), None) is False
    with engine.connect() as conn:
        rows = conn.execute(select(INBOX_ACTIVITIES.c.uri, INBOX_ACTIVITIES.c.type)
                            .order_by(INBOX_ACTIVITIES.c.uri)).all()
    assert [tuple(r) for r in rows] == [("https://peer.example/1", "Like"), ("https://peer.example/2", "Follow")]


def test_insert_ignoring_takes_sql_expressions_as_values(engine):
    with engine.begin() as conn:
        assert insert_ignoring(conn, INBOX_ACTIVITIES, _row("https://peer.example/3", func.lower("LIKE")), ["uri"])
        assert not insert_ignoring(conn, INBOX_ACTIVITIES, _row("https://peer.example/3", func.lower("X")), ["uri"])
    with engine.connect() as conn:
        assert conn.execute(select(INBOX_ACTIVITIES.c.type)).scalar_one() == "like"
