"""Issue 13: a page reads through one database connection (settings, the page's reads, the footer's profile),
not one per part: on PostgreSQL every checkout from the pool costs a pre-ping round trip."""
from __future__ import annotations

import pytest
from sqlalchemy import event, text


@pytest.fixture
def checkouts(engine):  # noqa: ANN001, ANN201
    seen: list[int] = []

    def count(*_args) -> None:  # noqa: ANN002
        seen.append(1)

    event.listen(engine.pool, "checkout", count)
    yield seen
    event.remove(engine.pool, "checkout", count)


@pytest.mark.parametrize("path", ["/", "/search?q=kites", "/tags/kites"])
def test_a_page_checks_out_one_connection(client, make_bookmark, checkouts, path: str):
    make_bookmark(title="Kites over the bay", tags=["kites"], federate=True)
    client.get(path)  # warm: first requests may load things once
    checkouts.clear()
    response = client.get(path)
    assert response.status_code == 200 and "Kites over the bay" in response.get_data(as_text=True)
    assert len(checkouts) == 1


def test_a_permalink_checks_out_one_connection(client, make_bookmark, checkouts):
    bookmark = make_bookmark(title="Kites over the bay", annotation="A *windy* day", federate=True)
    client.get(f"/bookmarks/{bookmark}")
    checkouts.clear()
    response = client.get(f"/bookmarks/{bookmark}")
    assert response.status_code == 200 and "windy" in response.get_data(as_text=True)
    assert len(checkouts) == 1


def test_reads_after_a_failed_statement_still_work(app, client, make_bookmark, engine):
    """A statement that fails on the request's connection must not spoil the reads after it (on PostgreSQL a
    failed statement inside a transaction would: "current transaction is aborted")."""
    from linkblog.db import begin_shared_reads, end_shared_reads, reading

    make_bookmark(title="Kites over the bay", federate=True)
    scope = begin_shared_reads(engine)
    try:
        with pytest.raises(Exception):
            with reading(engine) as conn:
                conn.execute(text("SELECT no_such_column FROM bookmarks"))
        with reading(engine) as conn:
            assert conn.execute(text("SELECT count(*) FROM bookmarks")).scalar_one() == 1
    finally:
        end_shared_reads(scope)

