"""The Wayback Machine (``links/wayback.py``): the fallback URL from the saved date, and the optional save
request at a new bookmark's first check, against a loopback stand-in for the archive."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from linkblog.links.checks import check_due
from linkblog.links.wayback import wayback_url
from linkblog.models import LINK_CHECKS
from tests.support.links import LINKS
from tests.support.testweb import Page, html

SETTINGS = LINKS  # the config fixture's (tests/links/conftest.py)


def test_the_fallback_names_the_saved_moment() -> None:
    assert wayback_url("https://a.example/x?y=1", datetime(2024, 2, 29, 23, 5, 1)) == \
        "https://web.archive.org/web/20240229230501/https://a.example/x?y=1"
    assert wayback_url("https://a.example/", None) == "https://web.archive.org/web/2/https://a.example/"


def test_new_bookmarks_are_sent_to_the_archive_once_when_asked(engine, make_bookmark, web, clock,
                                                               checker) -> None:  # noqa: ANN001
    site, archive = web.site(), web.site()
    archive.otherwise(Page("saved", status=200, content_type="text/plain"))
    new = make_bookmark.row(site.page("/new", Page(html("N", "words " * 30))), created_at=clock() - timedelta(hours=1))
    old = make_bookmark.row(site.page("/old", Page(html("O", "words " * 30))), created_at=clock() - timedelta(days=90))
    run = checker(wayback_save=True, wayback_endpoint=archive.url("/save/"))
    check_due(run)
    assert [(s.method, s.path) for s in archive.requests] == [("GET", f"/save/{site.url('/new')}")]
    assert archive.requests[0].headers["user-agent"].startswith("linkblog/")
    with engine.connect() as conn:
        rows = {r.bookmark_id: r for r in conn.execute(select(LINK_CHECKS))}
    assert rows[new].archive_requested_at == clock() and "Wayback Machine asked" in rows[new].reason
    assert rows[old].archive_requested_at is None
    clock.advance(days=3)
    check_due(run)
    assert len(archive.requests) == 1     # only at the first check


def test_a_failing_archive_costs_only_a_line(engine, make_bookmark, web, clock, checker) -> None:  # noqa: ANN001
    site, archive = web.site(), web.site()
    archive.otherwise(Page("nope", status=503))
    bookmark = make_bookmark.row(site.page("/p", Page(html("P", "words " * 30))), created_at=clock())
    check_due(checker(wayback_save=True, wayback_endpoint=archive.url("/save/")))
    with engine.connect() as conn:
        row = conn.execute(select(LINK_CHECKS).where(LINK_CHECKS.c.bookmark_id == bookmark)).first()
    assert row.state == "ok" and "save refused (HTTP 503)" in row.reason


def test_off_by_default(engine, make_bookmark, web, clock, checker) -> None:  # noqa: ANN001
    site, archive = web.site(), web.site()
    make_bookmark.row(site.page("/p", Page(html("P"))), created_at=clock())
    check_due(checker(wayback_endpoint=archive.url("/save/")))
    assert archive.requests == []
