"""The page fetch (``links/fetch.py``) against a loopback web of real HTTP servers: what comes back for good,
redirected, missing, throttled, slow and hostile pages, and that every failure is a reason, never a hang."""
from __future__ import annotations

import pytest

from linkblog.links.fetch import PageFetcher
from tests.support.app import make_config
from tests.support.copies import COPY_SETTINGS
from tests.support.testweb import (
    Page,
    Site,
    early_hints_forever,
    gzip_bomb,
    html,
    redirect,
)

SETTINGS = COPY_SETTINGS  # the config fixture's (tests/links/conftest.py)

PDF = b"%PDF-1.4\n1 0 obj << /Title (A Report on Things) >> endobj\n%%EOF\n"


def test_a_page_comes_back_with_its_final_address_after_a_redirect_chain(web, fetcher):
    site = web.site()
    final = site.page("/final", Page(html("Arrived", "The end of the chain.")))
    site.page("/b", redirect("/final", 302))
    start = site.page("/a", redirect(site.url("/b"), 301))
    answer = fetcher.fetch(start)
    assert answer.fetched is not None and answer.reason == ""
    assert answer.fetched.url == final and answer.status == 200
    assert b"The end of the chain." in answer.fetched.body
    assert [seen.path for seen in site.requests] == ["/robots.txt", "/a", "/b", "/final"]


def test_our_user_agent_names_the_site(web, fetcher):
    site = web.site()
    fetcher.fetch(site.page("/", Page(html("Hi"))))
    agents = {seen.headers.get("user-agent") for seen in site.requests}
    assert len(agents) == 1 and "linkblog/" in agents.pop() and "(+http://links.test)" in site.requests[-1].headers[
        "user-agent"]


@pytest.mark.parametrize("status", [404, 410])
def test_a_page_that_is_gone_fails_at_once_with_its_status(web, fetcher, status):
    site = web.site()
    answer = fetcher.fetch(site.page("/gone", Page("gone", status=status)))
    assert answer.fetched is None and not answer.retry
    assert answer.status == status and f"HTTP {status}" in answer.reason


def test_429_is_retried_after_what_retry_after_says(web, fetcher):
    site = web.site()
    answer = fetcher.fetch(site.page("/busy", Page("slow down", status=429, headers={"Retry-After": "120"})))
    assert answer.retry and answer.retry_after == 120.0 and answer.status == 429


def test_a_server_error_is_worth_retrying(web, fetcher):
    site = web.site()
    answer = fetcher.fetch(site.page("/oops", Page("oops", status=503)))
    assert answer.retry and answer.fetched is None and "503" in answer.reason


def test_a_page_that_never_answers_ends_at_the_deadline(web, fetcher):
    site = web.site()
    answer = fetcher.fetch(site.page("/never", Page(html("Late"), delay=30)))
    assert answer.fetched is None and answer.retry and "too long" in answer.reason


def test_a_body_trickled_a_byte_a_second_ends_at_the_deadline(web, fetcher):
    site = web.site()
    answer = fetcher.fetch(site.page("/trickle", Page(html("Slow", "x" * 200), trickle=1.0)))
    assert answer.fetched is None and answer.retry and "too long" in answer.reason


def test_a_flood_of_1xx_answers_ends_at_the_deadline(web, fetcher):
    site = web.site()
    site.page("/robots.txt", Page("", status=404, content_type="text/plain"))
    answer = fetcher.fetch(site.page("/hints", early_hints_forever()))
    assert answer.fetched is None
    assert answer.retry and "too long" in answer.reason


def test_a_gzip_bomb_stops_at_the_size_cap(web, fetcher):
    site = web.site()
    answer = fetcher.fetch(site.page("/bomb", gzip_bomb(50 * 1024 * 1024)))
    assert answer.fetched is None and not answer.retry and "larger than the size limit" in answer.reason


def test_a_50_mb_page_is_refused_by_its_declared_size(web, fetcher):
    site = web.site()
    answer = fetcher.fetch(site.page("/huge", Page(b"<p>" + b"a" * (50 * 1024 * 1024))))
    assert answer.fetched is None and "larger than the size limit" in answer.reason


def test_a_large_page_without_a_declared_size_stops_at_the_cap(web, fetcher):
    site = web.site()
    body = b"<p>" + b"a" * (3 * 1024 * 1024)
    raw = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n" + body
    answer = fetcher.fetch(site.page("/unsized", Page(raw=raw)))
    assert answer.fetched is None and "larger than the size limit" in answer.reason


def test_endless_redirects_end_after_the_limit(web, fetcher):
    site = web.site()
    site.otherwise(lambda seen: redirect(seen.path + "x", 302) if seen.path != "/robots.txt"
                   else Page("", status=404, content_type="text/plain"))
    answer = fetcher.fetch(site.url("/loop"))
    assert answer.fetched is None and not answer.retry and "too many redirects" in answer.reason
    assert len(site.requests) == 1 + 4  # robots.txt, then the page and max_redirects (3) hops


def test_a_page_redirecting_to_itself_ends_too(web, fetcher):
    site = web.site()
    url = site.page("/self", redirect("/self", 301))
    answer = fetcher.fetch(url)
    assert answer.fetched is None and "too many redirects" in answer.reason


def test_a_pdf_is_fetched(web, fetcher):
    site = web.site()
    answer = fetcher.fetch(site.page("/report.pdf", Page(PDF, content_type="application/pdf")))
    assert answer.fetched is not None and answer.fetched.body == PDF


def test_other_types_are_refused(web, fetcher):
    site = web.site()
    answer = fetcher.fetch(site.page("/pic.png", Page(b"\x89PNG....", content_type="image/png")))
    assert answer.fetched is None and "neither HTML nor PDF" in answer.reason


def test_robots_txt_that_disallows_us_is_obeyed_and_read_once(web, fetcher):
    site = web.site()
    site.page("/robots.txt", Page("User-agent: linkblog\nDisallow: /private/\n", content_type="text/plain"))
    closed = site.page("/private/page", Page(html("Secret")))
    open_page = site.page("/public/page", Page(html("Open")))
    answer = fetcher.fetch(closed)
    assert answer.fetched is None and not answer.retry and "robots.txt" in answer.reason
    assert fetcher.fetch(open_page).fetched is not None
    assert site.hits("/private/page") == 0 and site.hits("/robots.txt") == 1


def test_robots_txt_for_every_agent_applies_to_us(web, fetcher):
    site = web.site()
    site.page("/robots.txt", Page("User-agent: *\nDisallow: /\n", content_type="text/plain"))
    answer = fetcher.fetch(site.page("/x", Page(html("X"))))
    assert "robots.txt" in answer.reason and site.hits("/x") == 0


def test_strict_mode_refuses_a_private_address_before_any_connection(web):
    site = web.site()
    page = site.page("/inside", Page(html("Inside")))
    strict = make_config("sqlite:///unused.db", **{"copies.timeout": 2})
    with PageFetcher(strict) as pages:
        over_http = pages.fetch(page)  # web pages may be plain http, but never on a private address
        over_https = pages.fetch(page.replace("http://", "https://"))
        by_name = pages.fetch(f"http://localhost:{site.port}/inside")
    for answer in (over_http, over_https, by_name):
        assert answer.fetched is None and not answer.retry and "not one we fetch" in answer.reason
    assert site.requests == []


def test_a_site_that_is_down_is_worth_retrying(fetcher):
    with Site() as site:
        url = site.url("/page")
    answer = fetcher.fetch(url)  # the server is closed now: connection refused
    assert answer.fetched is None and answer.retry and "could not be reached" in answer.reason
