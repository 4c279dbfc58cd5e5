"""The link checker (``links/checks.py``) against the loopback web of test sites, with an injected clock:
every state over a simulated month, HEAD then GET, conditional requests, Retry-After and per-host turns,
time-outs and hostile pages, all observed as rows of link_checks and requests the sites received."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from linkblog.links.checks import Link, Pacer, check_all, check_due, interleaved
from linkblog.models import LINK_CHECKS
from linkblog.states import LinkState
from tests.support.links import LINKS, START, Ticks
from tests.support.testweb import (
    Page,
    Seen,
    free_loopback_port,
    gzip_bomb,
    html,
    redirect,
)

SETTINGS = LINKS  # the config fixture's (tests/links/conftest.py)

WORDS = ("the river runs past the old mill where the miller kept his accounts of grain and flour sold to the "
         "village bakers every week through the long wet winter and the dry bright summer ")
OTHER = ("quarterly results exceed analyst expectations as the company announces new cloud products for "
         "enterprise customers across several regions and markets worldwide this year ")


def rows(engine) -> dict[int, Any]:  # noqa: ANN001
    with engine.connect() as conn:
        return {r.bookmark_id: r for r in conn.execute(select(LINK_CHECKS))}


def test_a_simulated_month_through_every_state(engine, make_bookmark, web, clock, checker) -> None:  # noqa: ANN001
    site, other = web.site(), web.site()
    phase = {"text": WORDS * 3, "e": 200}
    ok = site.page("/ok", Page(html("Mill", WORDS * 3)))
    moved = site.page("/old", redirect("/step", 301))
    site.page("/step", redirect(other.url("/new"), 302))
    other.page("/new", Page(html("New home", WORDS * 3)))
    temporary = site.page("/t1", redirect("/t2", 302))
    site.page("/t2", redirect("/t3", 307))
    site.page("/t3", Page(html("T", WORDS * 3)))
    missing = site.page("/missing", Page("nope", status=404))
    dies = site.page("/dies", lambda seen: Page(html("D", WORDS * 3)) if phase["e"] == 200
                     else Page("gone", status=410))
    changes = site.page("/changes", lambda seen: Page(html("C", phase["text"])))
    pdf = site.page("/paper.pdf", Page(b"%PDF-1.7 binary", content_type="application/pdf"))
    down = f"http://127.0.0.1:{free_loopback_port()}/nobody-listens"
    ids = {name: make_bookmark.row(url, created_at=START - timedelta(days=400)) for name, url in
           [("ok", ok), ("moved", moved), ("temporary", temporary), ("missing", missing), ("dies", dies),
            ("changes", changes), ("pdf", pdf), ("down", down)]}
    run = checker()
    timeline: dict[int, dict[str, str]] = {}
    for day in range(31):
        if day == 5:
            phase["e"] = 410
        if day == 10:
            phase["text"] = OTHER * 3
        if day == 20:
            other.page("/new", Page(html("New home", WORDS * 3)))
        check_due(run, limit=100)
        found = rows(engine)
        timeline[day] = {name: found[i].state for name, i in ids.items()}
        clock.advance(days=1)

    assert timeline[0] == {"ok": "ok", "moved": "redirected", "temporary": "ok", "missing": "gone", "dies": "ok",
                           "changes": "ok", "pdf": "ok", "down": "ok"}
    assert timeline[4]["dies"] == "ok" and timeline[6]["dies"] == "gone"        # checked every 2 days
    assert timeline[8]["changes"] == "ok" and timeline[10]["changes"] == "changed"
    assert timeline[30]["changes"] == "changed"                                   # the reference stays the first text
    assert timeline[6]["down"] == "ok" and timeline[7]["down"] == "unreachable"  # 3+ failures over 7 days
    assert all(timeline[d]["ok"] == "ok" and timeline[d]["moved"] == "redirected" for d in range(31))
    final = rows(engine)
    assert final[ids["moved"]].redirect_url == other.url("/new")
    assert "temporary redirect" in final[ids["temporary"]].reason
    assert final[ids["missing"]].last_status == 404 and final[ids["dies"]].last_status == 410
    assert "resembles" in final[ids["changes"]].reason
    assert final[ids["down"]].failures == 31 and "failed checks in a row" in final[ids["down"]].reason
    assert final[ids["dies"]].state_since == START + timedelta(days=6)
    assert final[ids["ok"]].checked_at == START + timedelta(days=30)
    assert final[ids["ok"]].next_check_at == START + timedelta(days=32)
    assert site.hits("/ok") >= 16 and all(s.headers["user-agent"].startswith("linkblog/")
                                           and "links.test" in s.headers["user-agent"] for s in site.requests)


def test_a_link_that_comes_back_is_ok_again_and_its_failures_forgotten(engine, make_bookmark, web, clock,
                                                                        checker) -> None:  # noqa: ANN001
    site = web.site()
    up = {"now": False}
    url = site.page("/flaky", lambda seen: Page(html("F", WORDS * 3)) if up["now"] else Page("busy", status=500))
    bookmark = make_bookmark.row(url)
    run = checker(unreachable_checks=2, unreachable_days=timedelta(days=1))
    for _ in range(3):
        check_due(run)
        clock.advance(days=1)
    assert rows(engine)[bookmark].state == LinkState.UNREACHABLE and "HTTP 500" in rows(engine)[bookmark].reason
    up["now"] = True
    check_due(run)
    row = rows(engine)[bookmark]
    assert (row.state, row.failures, row.first_failure_at) == (LinkState.OK, 0, None)


def test_head_refused_then_get(engine, make_bookmark, web, checker) -> None:  # noqa: ANN001
    site = web.site()
    url = site.page("/no-head", lambda seen: Page("method not allowed", status=405) if seen.method == "HEAD"
                    else Page(html("G", WORDS * 3)))
    bookmark = make_bookmark.row(url)
    check_due(checker())
    assert [s.method for s in site.requests] == ["HEAD", "GET"]
    assert rows(engine)[bookmark].state == LinkState.OK and rows(engine)[bookmark].fingerprint


def test_the_get_after_a_head_and_a_redirect_on_the_same_site_reuse_the_connection(engine, make_bookmark, web,
                                                                                    checker) -> None:  # noqa: ANN001
    """An answer without a body (HEAD) or with a small one (a redirect's) is read to its end, not cut off,
    so the next request to the host goes over the same connection."""
    site = web.site()
    site.page("/new", Page(html("N", WORDS * 3)))
    bookmark = make_bookmark.row(site.page("/old", redirect("/new", 301)))
    check_due(checker())
    assert [(s.method, s.path) for s in site.requests] == [("HEAD", "/old"), ("HEAD", "/new"), ("GET", "/old"),
                                                           ("GET", "/new")]
    assert len({s.client_port for s in site.requests}) == 1
    assert rows(engine)[bookmark].state == LinkState.REDIRECTED


def test_conditional_requests_after_the_first_check(engine, make_bookmark, web, clock, checker) -> None:  # noqa: ANN001
    site = web.site()

    def answer(seen: Seen) -> Page:
        if seen.headers.get("if-none-match") == '"v1"':
            return Page(status=304, headers={"ETag": '"v1"'})
        return Page(html("E", WORDS * 3), headers={"ETag": '"v1"', "Last-Modified": "Mon, 02 Nov 2026 08:00:00 GMT"})
    url = site.page("/etag", answer)
    bookmark = make_bookmark.row(url)
    run = checker()
    check_due(run)
    assert rows(engine)[bookmark].etag == '"v1"'
    first = len(site.requests)
    clock.advance(days=3)
    check_due(run)
    later = site.requests[first:]
    assert [(s.method, s.headers.get("if-none-match"), s.headers.get("if-modified-since")) for s in later] == [
        ("HEAD", '"v1"', "Mon, 02 Nov 2026 08:00:00 GMT")]
    row = rows(engine)[bookmark]
    assert (row.state, row.last_status, row.checked_at) == (LinkState.OK, 304, clock())


def test_retry_after_puts_off_the_link_and_the_rest_of_its_host(engine, make_bookmark, web, clock,
                                                                 checker) -> None:  # noqa: ANN001
    site = web.site()
    site.otherwise(Page("slow down", status=429, headers={"Retry-After": "7200"}))
    first, second = make_bookmark.row(site.url("/a")), make_bookmark.row(site.url("/b"))
    summary_run = checker()
    check_due(summary_run)
    assert len(site.requests) == 1      # the second link of the host was not asked at all
    found = rows(engine)
    for bookmark in (first, second):
        assert found[bookmark].state == LinkState.OK and found[bookmark].failures == 0
        assert found[bookmark].next_check_at == clock() + timedelta(hours=2)
    assert summary_run.summary.waiting == 2 and "Retry-After" in summary_run.summary.line()
    clock.advance(hours=1)
    check_due(checker())
    assert len(site.requests) == 1      # not due before the time the site asked for


def test_one_host_is_asked_at_most_once_per_gap_and_hosts_take_turns(engine, make_bookmark, web,
                                                                     checker) -> None:  # noqa: ANN001
    big, small = web.site(), web.site()
    for n in range(3):
        make_bookmark.row(big.page(f"/{n}", Page(html("B", WORDS))))
    make_bookmark.row(small.page("/s", Page(html("S", WORDS))))
    ticks = Ticks()
    check_due(checker(pacer=ticks.pacer(30)))
    assert ticks.waits == [30, 30]         # big's second and third link; small's went in between
    assert len(big.requests) == 6 and len(small.requests) == 2


def test_a_batch_takes_hosts_in_turns() -> None:
    links = [Link(n, url, START) for n, url in enumerate(["http://a.test/1", "http://a.test/2", "http://a.test/3",
                                                          "http://b.test/1", "http://c.test/1", "http://b.test/2"])]
    assert [link.url for link in interleaved(links)] == ["http://a.test/1", "http://b.test/1", "http://c.test/1",
                                                         "http://a.test/2", "http://b.test/2", "http://a.test/3"]


def test_a_stop_while_waiting_for_a_host_ends_the_run(engine, make_bookmark, web, checker) -> None:  # noqa: ANN001
    site = web.site()
    for n in range(3):
        make_bookmark.row(site.page(f"/{n}", Page(html("B", WORDS))))
    pacer = Pacer(60, sleep=lambda seconds: seconds > 0)   # as threading.Event.wait once stop is set
    check_due(checker(pacer=pacer))
    assert len(rows(engine)) == 1


def test_time_outs_and_hostile_pages_are_failures_with_a_reason(engine, make_bookmark, web, checker) -> None:  # noqa: ANN001
    site = web.site()
    slow = make_bookmark.row(site.page("/slow", Page(html("S"), delay=5)))
    bomb = make_bookmark.row(site.page("/bomb", gzip_bomb(20 * 1024 * 1024)))
    garbage = make_bookmark.row(site.page("/garbage", Page(raw=b"\x00\xffnot http at all\r\n\r\n")))
    endless = make_bookmark.row(site.page("/endless", redirect("/endless", 302)))
    check_due(checker())
    found = rows(engine)
    assert "time limit" in found[slow].reason and found[slow].failures == 1
    assert found[bomb].state == LinkState.OK           # a 200: only the capped prefix was inflated
    assert found[garbage].failures == 1 and found[garbage].reason
    assert "redirects" in found[endless].reason and found[endless].failures == 1


def test_check_all_checks_links_not_yet_due(engine, make_bookmark, web, clock, checker) -> None:  # noqa: ANN001
    site = web.site()
    bookmark = make_bookmark.row(site.page("/p", Page(html("P", WORDS))))
    run = checker()
    check_due(run)
    clock.advance(hours=1)
    assert check_due(run) == 0
    assert check_all(run) == 1 and rows(engine)[bookmark].checked_at == clock()
    assert site.hits("/p") == 4   # HEAD and GET each time (the page has no validators)


def test_an_unexpected_error_costs_one_link_not_the_run(engine, make_bookmark, web, checker,
                                                        monkeypatch) -> None:  # noqa: ANN001
    """A bug or an answer nobody foresaw while checking one link: it is recorded as a failure with a reason
    and the run goes on (a link that raised every time would otherwise head the due list for ever)."""
    from linkblog.links import checks

    site = web.site()
    bad = make_bookmark.row(site.page("/bad", Page(html("B", WORDS))))
    good = make_bookmark.row(site.page("/good", Page(html("G", WORDS))))
    real = checks.page_text

    def explode(body: bytes, content_type: str = "") -> str:
        if b"<title>B</title>" in body:
            raise RuntimeError("boom")
        return real(body, content_type)
    monkeypatch.setattr(checks, "page_text", explode)
    check_due(checker())
    found = rows(engine)
    assert found[bad].failures == 1 and "unexpected RuntimeError" in found[bad].reason
    assert found[good].state == LinkState.OK and found[good].failures == 0


def test_a_saved_copys_text_can_be_the_reference(engine, make_bookmark, web, checker) -> None:  # noqa: ANN001
    """``Run(reference=...)``: the page is compared with the text the function gives (a saved copy's), not
    with the fingerprint of the first check."""
    site = web.site()
    same = make_bookmark.row(site.page("/same", Page(html("S", WORDS * 3))))
    other = make_bookmark.row(site.page("/other", Page(html("O", WORDS * 3))))
    copies = {same: WORDS * 3, other: OTHER * 3}
    run = checker()
    run.reference = lambda conn, bookmark_id: copies.get(bookmark_id)
    check_due(run)
    found = rows(engine)
    assert found[same].state == LinkState.OK
    assert found[other].state == LinkState.CHANGED and "resembles" in found[other].reason


def test_a_check_of_a_bookmark_deleted_meanwhile_is_dropped(engine, make_bookmark, web) -> None:  # noqa: ANN001
    """The owner deletes a bookmark while its first check is under way: nothing is written for it, the other
    link's row is, and the run goes on."""
    from sqlalchemy import delete

    from linkblog.links.checks import save
    from linkblog.models import BOOKMARKS

    site = web.site()
    kept = make_bookmark.row(site.page("/kept", Page(html("Kept", WORDS * 3))))
    gone = make_bookmark.row(site.page("/gone", Page(html("Gone", WORDS * 3))))
    with engine.begin() as conn:
        conn.execute(delete(BOOKMARKS).where(BOOKMARKS.c.id == gone))
    values = {"checked_at": START, "state": LinkState.OK, "next_check_at": START + timedelta(days=30),
              "reason": "", "last_status": 200}
    save(engine, Link(gone, site.url("/gone"), START), dict(values))
    save(engine, Link(kept, site.url("/kept"), START), dict(values))
    found = rows(engine)
    assert gone not in found
    assert found[kept].state == LinkState.OK and found[kept].last_status == 200
    assert found[kept].next_check_at == START + timedelta(days=30)
