"""``probe`` (``net/probe.py``): a link check's HEAD or GET against the loopback web of test sites, on the
sync and the async client: every hop recorded, 4xx returned not raised, conditional headers sent, a body
prefix only, and the same guard on every hop."""
from __future__ import annotations

from typing import Any, Iterator

import pytest

from linkblog.federation.net import BadURL, BlockedAddress, FetchPolicy, FetchTimeout, TooManyRedirects

from tests.federation.net.servers import Runner, allow, strict
from tests.support.testweb import Page, Seen, Site, html, redirect


def probe(run: Runner, policy: FetchPolicy, url: str, **kwargs: Any) -> Any:
    """``run`` takes the client method's name as ``method``: the probe's own ``method`` goes through ``many``."""
    return run.many(policy, [("probe", (url,), kwargs)])[0]


@pytest.fixture
def site() -> Iterator[Site]:
    with Site() as one:
        yield one


def test_redirect_chain_is_recorded_hop_by_hop(run: Runner, site: Site) -> None:
    site.page("/a", redirect("/b", 301))
    site.page("/b", redirect(site.url("/c"), 302))
    site.page("/c", Page(html("C", "here")))
    got = probe(run, allow(), site.url("/a"))
    assert got.status == 200 and got.url == site.url("/c")
    assert got.hops == ((site.url("/a"), 301), (site.url("/b"), 302))
    assert [(s.method, s.path) for s in site.requests] == [("HEAD", "/a"), ("HEAD", "/b"), ("HEAD", "/c")]
    assert got.body == b""


@pytest.mark.parametrize("status", [404, 410, 405, 429, 500])
def test_error_statuses_come_back_instead_of_raising(run: Runner, site: Site, status: int) -> None:
    site.page("/x", Page("no", status=status, headers={"Retry-After": "120"}))
    got = probe(run, allow(), site.url("/x"))
    assert got.status == status and got.hops == ()
    assert got.headers["retry-after"] == "120"


def test_get_reads_a_capped_prefix_of_html_only(run: Runner, site: Site) -> None:
    site.page("/long", Page("<p>" + "word " * 10_000 + "</p>"))
    site.page("/doc.pdf", Page(b"%PDF-1.4 ...", content_type="application/pdf"))
    types = frozenset({"text/html"})
    long = probe(run, allow(max_body_bytes=1000), site.url("/long"), method="GET", body_types=types)
    assert long.status == 200 and len(long.body) == 1000 and long.truncated
    pdf = probe(run, allow(), site.url("/doc.pdf"), method="GET", body_types=types)
    assert pdf.status == 200 and pdf.body == b""


def test_gzip_body_is_inflated_and_capped(run: Runner, site: Site) -> None:
    site.page("/z", Page(b"a" * 5_000_000, gzip=True))
    got = probe(run, allow(max_body_bytes=4096), site.url("/z"), method="GET",
              body_types=frozenset({"text/html"}))
    assert got.body == b"a" * 4096 and got.truncated


def test_conditional_headers_are_sent_and_a_304_comes_back(run: Runner, site: Site) -> None:
    def answer(seen: Seen) -> Page:
        if seen.headers.get("if-none-match") == '"v1"':
            return Page(status=304)
        return Page(html("A"), headers={"ETag": '"v1"'})
    site.page("/c", answer)
    got = probe(run, allow(), site.url("/c"), method="GET", headers={"If-None-Match": '"v1"'})
    assert got.status == 304
    assert site.requests[-1].headers["user-agent"].startswith("linkblog/test")


def test_redirect_limit_and_deadline_hold(run: Runner, site: Site) -> None:
    for n in range(5):
        site.page(f"/r{n}", redirect(f"/r{n + 1}"))
    with pytest.raises(TooManyRedirects):
        probe(run, allow(), site.url("/r0"))
    site.page("/slow", Page(html("S"), delay=3))
    with pytest.raises(FetchTimeout):
        probe(run, allow(total_timeout=0.5, read_timeout=0.5), site.url("/slow"))


def test_strict_mode_refuses_loopback_before_any_connection(run: Runner, site: Site) -> None:
    recorder = run.recorder()
    with pytest.raises(BlockedAddress):
        run(strict(), "probe", f"https://{site.host}:{site.port}/a", backend=recorder)
    with pytest.raises(BadURL):   # and plain http is not even a scheme strict mode speaks
        run(strict(), "probe", site.url("/a"), backend=recorder)
    assert recorder.targets == [] and site.requests == []


def test_redirect_targets_are_checked_on_every_hop(run: Runner, site: Site) -> None:
    site.page("/to-metadata", redirect("http://169.254.169.254/latest/"))
    with pytest.raises(BlockedAddress):
        probe(run, allow(), site.url("/to-metadata"))
    assert [s.path for s in site.requests] == ["/to-metadata"]


def test_only_head_and_get(run: Runner, site: Site) -> None:
    with pytest.raises(ValueError):
        probe(run, allow(), site.url("/a"), method="POST")
