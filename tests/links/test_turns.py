"""Checking several hosts at once (``links/turns.py``), seen from the loopback sites: two hosts are asked at
the same time, one host is never asked twice at once and its gap is kept, the total is bounded by
``[links] check_concurrency``, and a spread batch does not let a host inside its gap hold up the others."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from sqlalchemy import select

from linkblog.links.checks import Pacer, check_due
from linkblog.models import LINK_CHECKS
from linkblog.states import LinkState

from tests.support.links import LINKS, Ticks
from tests.support.testweb import Page, Seen, Site, html

SETTINGS = LINKS  # the config fixture's (tests/links/conftest.py)

WORDS = "the river runs past the old mill where the miller kept his accounts of grain " * 4


@dataclass
class Log:
    """When each request arrived at and left a site's handler (time.monotonic()), and how many were being
    answered at once over all the sites that share this log."""

    visits: list[tuple[str, str, float, float]] = field(default_factory=list)   # (host, method, arrived, left)
    busy: int = 0
    most: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def page(self, site: Site, path: str, hold: float = 0.0, before=None) -> str:  # noqa: ANN001
        """Serve a text page at ``path`` whose answers are logged; each takes ``hold`` seconds, and
        ``before(seen)`` runs first (it may wait for something)."""
        def answer(seen: Seen) -> Page:
            arrived = time.monotonic()
            with self.lock:
                self.busy += 1
                self.most = max(self.most, self.busy)
            if before is not None:
                before(seen)
            time.sleep(hold)
            with self.lock:
                self.busy -= 1
                self.visits.append((site.host, seen.method, arrived, time.monotonic()))
            return Page(html("P", WORDS))
        return site.page(path, answer)

    def of(self, host: str) -> list[tuple[str, str, float, float]]:
        return sorted((v for v in self.visits if v[0] == host), key=lambda v: v[2])


def states(engine) -> dict[int, str]:  # noqa: ANN001
    with engine.connect() as conn:
        return dict(conn.execute(select(LINK_CHECKS.c.bookmark_id, LINK_CHECKS.c.state)).all())


def answered(engine) -> dict[int, tuple[str, int | None, int]]:  # noqa: ANN001
    """Per bookmark: (state, last status, failures in a row)."""
    with engine.connect() as conn:
        return {r.bookmark_id: (r.state, r.last_status, r.failures) for r in conn.execute(select(LINK_CHECKS))}


def test_two_hosts_are_checked_at_the_same_time(engine, make_bookmark, web, checker) -> None:  # noqa: ANN001
    """Each site's first request waits until the other site has been asked too: one at a time, the first
    would run out of its 2 s deadline (``check_timeout``) waiting for a request that never comes."""
    first, second = web.site(), web.site()
    arrived = {first.host: threading.Event(), second.host: threading.Event()}
    met: list[bool] = []

    def meet(other: str):  # noqa: ANN202
        def before(seen: Seen) -> None:
            if seen.method == "HEAD":
                mine = first.host if other == second.host else second.host
                arrived[mine].set()
                met.append(arrived[other].wait(5))
        return before
    log = Log()
    a = make_bookmark.row(log.page(first, "/a", before=meet(second.host)))
    b = make_bookmark.row(log.page(second, "/b", before=meet(first.host)))
    check_due(checker(concurrency=8))
    assert met == [True, True]
    assert answered(engine) == {a: (LinkState.OK, 200, 0), b: (LinkState.OK, 200, 0)}   # no time-out
    assert log.most >= 2


def test_one_host_is_asked_one_request_at_a_time_its_gap_kept_while_others_go_on(engine, make_bookmark, web,
                                                                                 checker) -> None:  # noqa: ANN001
    gap = 0.4
    busy, quiet = web.site(), web.site()
    log = Log()
    for n in range(3):
        make_bookmark.row(log.page(busy, f"/{n}", hold=0.05))
    for n in range(3):
        make_bookmark.row(log.page(quiet, f"/{n}", hold=0.05))
    check_due(checker(pacer=Pacer(gap), concurrency=8), limit=100)
    assert set(answered(engine).values()) == {(LinkState.OK, 200, 0)} and len(answered(engine)) == 6
    for site in (busy, quiet):
        visits = log.of(site.host)
        assert [method for _, method, _, _ in visits] == ["HEAD", "GET"] * 3
        for earlier, later in zip(visits, visits[1:]):
            assert later[2] >= earlier[3]                       # never two requests at once on one host
        for check, after in zip(range(0, 4, 2), range(2, 6, 2)):     # (HEAD, GET) pairs: one check each
            assert visits[after][2] - visits[check + 1][3] >= gap   # the gap from one check's end to the next
    busy_heads = [v[2] for v in log.of(busy.host) if v[1] == "HEAD"]
    quiet_heads = [v[2] for v in log.of(quiet.host) if v[1] == "HEAD"]
    assert quiet_heads[0] < busy_heads[1] and busy_heads[0] < quiet_heads[1]   # the hosts took turns ...
    busy_first_ended, quiet_first_ended = log.of(busy.host)[1][3], log.of(quiet.host)[1][3]
    assert quiet_heads[0] < busy_first_ended and busy_heads[0] < quiet_first_ended   # ... side by side


def test_no_more_checks_at_once_than_check_concurrency(engine, make_bookmark, web, checker) -> None:  # noqa: ANN001
    log = Log()
    for _ in range(4):
        make_bookmark.row(log.page(web.site(), "/slow", hold=0.3))
    check_due(checker(concurrency=2))
    assert len(states(engine)) == 4 and log.most == 2


def test_a_spread_batch_leaves_a_host_inside_its_gap_for_later(engine, make_bookmark, web, checker) -> None:  # noqa: ANN001
    """``check_due(spread=True)`` (the worker's): one link per host whose turn has come; the big host's other
    links stay due and are checked in later batches, one per batch, each after the gap (waited on the
    injected clock)."""
    big, small = web.site(), web.site()
    bigs = [make_bookmark.row(big.page(f"/{n}", Page(html("B", WORDS)))) for n in range(3)]
    lone = make_bookmark.row(small.page("/s", Page(html("S", WORDS))))
    ticks = Ticks()
    waits = ticks.waits
    run = checker(pacer=ticks.pacer(30))
    assert check_due(run, spread=True) == 2
    assert set(states(engine)) == {bigs[2], lone} and waits == []     # newest first: one of big, and small
    assert check_due(run, spread=True) == 1                            # only big is left: its next turn
    assert set(states(engine)) == {bigs[2], bigs[1], lone} and waits == [30]
    assert check_due(run, spread=True) == 1
    assert set(states(engine)) == {*bigs, lone} and waits == [30, 30]
    assert check_due(run, spread=True) == 0
