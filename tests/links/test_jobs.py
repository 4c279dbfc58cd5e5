"""The page-copy queue and the worker's step (``links/copies.py``, ``links/jobs.py``) on a real database and a
loopback web: queued with the bookmark, fetched politely, kept compressed, retried when it may help, given up
with a reason when not, and never more than one fetch at a time per host."""
from __future__ import annotations

import asyncio
import zlib
from datetime import timedelta

import pytest
from sqlalchemy import delete, select, update

from linkblog.db import utcnow
from linkblog.federation import worker
from linkblog.links import copies, jobs
from linkblog.links.fetch import PageFetcher
from linkblog.models import BOOKMARKS, COPY_HOSTS, PAGE_COPIES
from linkblog.transfer.formats.entries import ImportedBookmark
from linkblog.transfer.importer import import_bookmarks
from tests.support.app import make_config
from tests.support.copies import COPY_SETTINGS
from tests.support.testweb import Page, gzip_bomb, html

SETTINGS = COPY_SETTINGS  # the config fixture's (tests/links/conftest.py)

TEXT = ("The heron stood in the shallow water for a long time, watching the reeds move in the wind, "
        "and nobody on the bank said a word while it waited for a fish. ") * 3


def save(owner, url: str, **fields) -> int:  # noqa: ANN001
    data = {"url": url, "title": "", "annotation": "", "quote": "", "tags": "", "visibility": "public",
            "csrf_token": owner.csrf, **fields}
    response = owner.post("/save", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(response.headers["Location"].rsplit("/", 1)[1])


def copy_row(engine, bookmark_id: int):  # noqa: ANN001, ANN201
    with engine.connect() as conn:
        return conn.execute(select(PAGE_COPIES).where(PAGE_COPIES.c.bookmark_id == bookmark_id)).mappings().first()


def title_of(engine, bookmark_id: int) -> str:  # noqa: ANN001
    with engine.connect() as conn:
        return conn.execute(select(BOOKMARKS.c.title).where(BOOKMARKS.c.id == bookmark_id)).scalar_one()


@pytest.fixture
def pages(config):  # noqa: ANN001, ANN201
    with PageFetcher(config) as fetcher:
        yield fetcher


def test_saving_queues_a_copy_and_the_worker_keeps_it_compressed_and_titles_the_bookmark(owner, engine, config,
                                                                                          web, pages):
    site = web.site()
    url = site.page("/heron", Page(html("The Heron", TEXT, head='<meta name="description" content="A bird.">')))
    bookmark_id = save(owner, url)
    queued = copy_row(engine, bookmark_id)
    assert queued["state"] == "queued" and queued["host"] == f"{site.host}:{site.port}"
    assert title_of(engine, bookmark_id) == url  # left blank: the address, as the form stores it

    assert jobs.run_once(engine, config, pages) == 1
    done = copy_row(engine, bookmark_id)
    assert done["state"] == "done" and done["status"] == 200 and done["final_url"] == url
    assert (done["title"], done["description"]) == ("The Heron", "A bird.")
    assert "The heron stood in the shallow water" in done["text"]
    assert "The heron stood" in zlib.decompress(done["html_z"]).decode()
    assert title_of(engine, bookmark_id) == "The Heron"
    assert copies.copy_text(engine, bookmark_id) == done["text"]
    assert jobs.run_once(engine, config, pages) == 0  # nothing left to do


def test_a_title_the_owner_typed_is_never_replaced(owner, engine, config, web, pages):
    site = web.site()
    bookmark_id = save(owner, site.page("/p", Page(html("Their Title", TEXT))), title="My own title")
    jobs.run_once(engine, config, pages)
    assert copy_row(engine, bookmark_id)["title"] == "Their Title"
    assert title_of(engine, bookmark_id) == "My own title"


def test_the_copy_keeps_what_was_saved_when_the_page_changes(owner, engine, config, web, pages):
    site = web.site()
    words = {"text": "The first version of the page talks about herons and their patience in the reeds. " * 3}
    url = site.page("/changing", lambda seen: Page(html("Changing", words["text"])))
    bookmark_id = save(owner, url)
    jobs.run_once(engine, config, pages)
    words["text"] = "Now the page is about something else entirely, about trains and their timetables. " * 3
    assert "herons" in copies.copy_text(engine, bookmark_id)
    assert jobs.run_once(engine, config, pages) == 0 and site.hits("/changing") == 1


@pytest.mark.parametrize("status", [404, 410])
def test_a_missing_page_fails_at_once_with_a_reason(owner, engine, config, web, pages, status):
    site = web.site()
    bookmark_id = save(owner, site.page("/gone", Page("no", status=status)))
    jobs.run_once(engine, config, pages)
    row = copy_row(engine, bookmark_id)
    assert row["state"] == "failed" and row["status"] == status and f"HTTP {status}" in row["reason"]
    assert row["html_z"] is None and row["text"] == "" and copies.copy_text(engine, bookmark_id) is None


def test_429_waits_as_long_as_retry_after_says_then_succeeds(owner, engine, config, web, pages):
    site = web.site()
    answers = [Page("slow down", status=429, headers={"Retry-After": "600"}), Page(html("Patient", TEXT))]
    url = site.page("/busy", lambda seen: answers[min(site.hits("/busy"), 2) - 1])
    bookmark_id = save(owner, url)
    start = utcnow()
    jobs.run_once(engine, config, pages, now=start)
    row = copy_row(engine, bookmark_id)
    assert row["state"] == "queued" and row["attempts"] == 1 and "HTTP 429" in row["reason"]
    assert row["next_attempt_at"] >= start + timedelta(seconds=600)
    with engine.connect() as conn:
        host_next = conn.execute(select(COPY_HOSTS.c.next_at).where(COPY_HOSTS.c.host == row["host"])).scalar_one()
    assert host_next >= start + timedelta(seconds=600)  # the whole host waits, not only this page
    assert jobs.run_once(engine, config, pages, now=start + timedelta(seconds=590)) == 0
    assert site.hits("/busy") == 1
    assert jobs.run_once(engine, config, pages, now=start + timedelta(seconds=610)) == 1
    assert copy_row(engine, bookmark_id)["state"] == "done" and title_of(engine, bookmark_id) == "Patient"


def test_a_failing_server_is_retried_with_backoff_then_given_up(owner, engine, config, web, pages):
    site = web.site()
    bookmark_id = save(owner, site.page("/down", Page("oops", status=503)))
    now = utcnow()
    for attempt in range(1, config.get("copies", "max_attempts") + 1):
        assert jobs.run_once(engine, config, pages, now=now) == 1
        row = copy_row(engine, bookmark_id)
        assert row["attempts"] == attempt
        now = row["next_attempt_at"] + timedelta(seconds=1)
    assert row["state"] == "failed" and "HTTP 503" in row["reason"] and "gave up after 5 tries" in row["reason"]
    assert site.hits("/down") == 5


def test_hostile_pages_fail_with_a_reason_and_store_nothing(owner, engine, config, web, pages):
    site = web.site()
    bomb = save(owner, site.page("/bomb", gzip_bomb(20 * 1024 * 1024)))
    other = web.site()
    loop = save(owner, other.page("/self", Page(status=302, headers={"Location": "/self"}, content_type="text/plain")))
    third = web.site()
    slow = save(owner, third.page("/slow", Page(html("Slow", TEXT), trickle=1.0)))
    assert jobs.run_once(engine, config, pages) == 3  # three hosts at once
    for bookmark_id, words in ((bomb, "larger than the size limit"), (loop, "too many redirects"),
                               (slow, "too long")):
        row = copy_row(engine, bookmark_id)
        assert words in row["reason"] and row["html_z"] is None and row["text"] == ""
    assert copy_row(engine, slow)["state"] == "queued"  # a timeout may pass: tried again later


def test_one_host_is_fetched_one_page_at_a_time_with_a_gap(database_url, owner, engine, web):
    config = make_config(database_url, **{**COPY_SETTINGS, "copies.host_gap": 60})
    site = web.site()
    first = save(owner, site.page("/1", Page(html("One", TEXT))))
    second = save(owner, site.page("/2", Page(html("Two", TEXT))))
    now = utcnow()
    with PageFetcher(config) as fetcher:
        assert jobs.run_once(engine, config, fetcher, now=now) == 1
        assert jobs.run_once(engine, config, fetcher, now=now + timedelta(seconds=30)) == 0
        assert jobs.run_once(engine, config, fetcher, now=now + timedelta(seconds=61)) == 1
    assert copy_row(engine, first)["state"] == copy_row(engine, second)["state"] == "done"


def test_imports_queue_and_are_fetched_at_a_polite_rate_after_saved_pages(database_url, owner, engine, web):
    config = make_config(database_url, **{**COPY_SETTINGS, "copies.import_interval": 60})
    sites = [web.site() for _ in range(4)]
    entries = [ImportedBookmark(url=s.page("/imported", Page(html("Imported", TEXT))), title="Imported")
               for s in sites[:3]]
    result = import_bookmarks(engine, entries, copy_pages=True)
    assert result.added == 3
    saved = save(owner, sites[3].page("/saved", Page(html("Saved", TEXT))))
    assert copies.import_progress(engine) == copies.Progress(queued=3, done=0, failed=0)
    now = utcnow()
    with PageFetcher(config) as fetcher:
        assert jobs.run_once(engine, config, fetcher, now=now) == 2  # the saved page and one import
        assert copy_row(engine, saved)["state"] == "done"
        assert copies.import_progress(engine) == copies.Progress(queued=2, done=1, failed=0)
        assert jobs.run_once(engine, config, fetcher, now=now + timedelta(seconds=30)) == 0
        assert jobs.run_once(engine, config, fetcher, now=now + timedelta(seconds=61)) == 1
    assert copies.import_progress(engine) == copies.Progress(queued=1, done=2, failed=0)


def test_copies_off_or_off_for_imports(database_url, owner, engine, web):
    site = web.site()
    owner.post("/admin/settings", data={"csrf_token": owner.csrf, "title": "My links", "timezone": "UTC",
                                        "default_visibility": "public", "copies_mode": "no_imports"})
    import_bookmarks(engine, [ImportedBookmark(url=site.url("/i"), title="I")],
                     copy_pages=copies.wanted(_settings(engine, database_url), imported=True))
    saved = save(owner, site.url("/s"))
    with engine.connect() as conn:
        assert conn.execute(select(PAGE_COPIES.c.bookmark_id)).scalars().all() == [saved]
    owner.post("/admin/settings", data={"csrf_token": owner.csrf, "title": "My links", "timezone": "UTC",
                                        "default_visibility": "public", "copies_mode": "off"})
    assert copy_row(engine, save(owner, site.url("/t"))) is None


def _settings(engine, database_url):  # noqa: ANN001, ANN202
    from linkblog.settings import load

    return load(engine, make_config(database_url))


def test_a_claimed_fetch_survives_a_killed_worker(owner, engine, config, web, pages):
    site = web.site()
    bookmark_id = save(owner, site.page("/p", Page(html("Survivor", TEXT))))
    now = utcnow()
    assert len(jobs.claim(engine, config, now, 4)) == 1  # claimed, then the worker dies before finishing
    assert jobs.run_once(engine, config, pages, now=now + timedelta(seconds=10)) == 0  # still leased
    lease = timedelta(seconds=config.get("copies", "lease") + 1)
    assert jobs.run_once(engine, config, pages, now=now + lease) == 1
    assert copy_row(engine, bookmark_id)["state"] == "done"


def test_a_deleted_bookmark_takes_its_copy_with_it(owner, engine, config, web, pages):
    site = web.site()
    bookmark_id = save(owner, site.page("/p", Page(html("Gone soon", TEXT))))
    jobs.run_once(engine, config, pages)
    with engine.begin() as conn:
        conn.execute(delete(BOOKMARKS).where(BOOKMARKS.c.id == bookmark_id))
    assert copy_row(engine, bookmark_id) is None


def test_a_changed_address_is_fetched_again(owner, engine, config, web, pages):
    site = web.site()
    first = site.page("/old", Page(html("Old", TEXT)))
    bookmark_id = save(owner, first, title="Kept")
    jobs.run_once(engine, config, pages)
    new = site.page("/new", Page(html("New", "Completely different words about trains and stations. " * 4)))
    response = owner.post(f"/bookmarks/{bookmark_id}/edit", data={
        "url": new, "title": "Kept", "annotation": "", "quote": "", "tags": "", "visibility": "public",
        "csrf_token": owner.csrf})
    assert response.status_code == 302
    assert copy_row(engine, bookmark_id)["state"] == "queued"
    with engine.begin() as conn:  # the host's gap is over
        conn.execute(update(COPY_HOSTS).values(next_at=utcnow() - timedelta(seconds=1)))
    jobs.run_once(engine, config, pages)
    assert "trains" in copies.copy_text(engine, bookmark_id)


def test_the_worker_runs_page_copies_as_its_third_loop(owner, engine, config, web):
    site = web.site()
    bookmark_id = save(owner, site.page("/w", Page(html("By the worker", TEXT))))
    asyncio.run(worker.run(config, asyncio.Event(), once=True))
    assert copy_row(engine, bookmark_id)["state"] == "done"
    assert title_of(engine, bookmark_id) == "By the worker"


def test_a_bookmark_saved_through_the_api_is_copied_too(client, engine, config, web, pages):
    from linkblog import tokens

    with engine.begin() as conn:
        token = tokens.create_token(conn, "script")
    site = web.site()
    url = site.page("/api", Page(html("From a script", TEXT)))
    response = client.post("/api/bookmarks", json={"url": url}, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201, response.get_data(as_text=True)
    bookmark_id = response.get_json()["id"]
    assert copy_row(engine, bookmark_id)["state"] == "queued"
    jobs.run_once(engine, config, pages)
    assert title_of(engine, bookmark_id) == "From a script"


def test_a_pdf_keeps_its_title_and_says_its_text_is_not_kept(owner, engine, config, web, pages):
    site = web.site()
    pdf = b"%PDF-1.4\n1 0 obj << /Title (Quarterly Heron Census) >> endobj\n%%EOF\n"
    bookmark_id = save(owner, site.page("/census.pdf", Page(pdf, content_type="application/pdf")))
    jobs.run_once(engine, config, pages)
    row = copy_row(engine, bookmark_id)
    assert row["state"] == "done" and row["content_type"] == "application/pdf"
    assert row["title"] == "Quarterly Heron Census" and "PDF" in row["reason"] and row["text"] == ""
    assert title_of(engine, bookmark_id) == "Quarterly Heron Census"


@pytest.mark.parametrize("content_type, body", [
    ("text/html; charset=iso-8859-1", ("<title>Café crème</title><article><p>" + "Un café crème très chaud. " * 8
                                       + "</p></article>").encode("utf-8")),  # declared latin-1, sent UTF-8
    ("text/html", ("<meta charset=iso-8859-1><title>Café crème</title><article><p>" + "Un café crème très chaud. " * 8
                   + "</p></article>").encode("iso-8859-1")),
])
def test_wrong_or_missing_charsets_still_give_readable_text(owner, engine, config, web, pages, content_type, body):
    site = web.site()
    bookmark_id = save(owner, site.page("/cafe", Page(body, content_type=content_type)))
    jobs.run_once(engine, config, pages)
    row = copy_row(engine, bookmark_id)
    assert row["title"] == "Café crème" and "Un café crème très chaud." in row["text"]


def test_strict_mode_fails_a_private_address_with_a_reason_and_no_connection(database_url, owner, engine, web):
    strict = make_config(database_url, **{"copies.timeout": 2})
    site = web.site()
    bookmark_id = save(owner, site.page("/intranet", Page(html("Intranet", TEXT))))
    with PageFetcher(strict) as fetcher:
        assert jobs.run_once(engine, strict, fetcher) == 1
    row = copy_row(engine, bookmark_id)
    assert row["state"] == "failed" and "not one we fetch" in row["reason"] and row["attempts"] == 1
    assert site.requests == []


def test_a_page_that_links_to_itself_is_fetched_once(owner, engine, config, web, pages):
    site = web.site()
    url = site.page("/mirror", Page(html("Mirror", TEXT + '<a href="/mirror">again</a> <a href="">here</a>')))
    bookmark_id = save(owner, url)
    jobs.run_once(engine, config, pages)
    assert copy_row(engine, bookmark_id)["state"] == "done" and site.hits("/mirror") == 1
    assert 'href="' + url + '"' in zlib.decompress(copy_row(engine, bookmark_id)["html_z"]).decode()


def test_a_page_too_slow_to_read_is_given_up_at_the_reading_limit(database_url, owner, engine, web):
    quick = make_config(database_url, **{**COPY_SETTINGS, "copies.extract_timeout": 1})
    site = web.site()
    links = b"<html><body><article>" + b'<a href="/x">x</a>' * 55_000 + b"</article></body></html>"  # about 1 MiB
    bookmark_id = save(owner, site.page("/links", Page(links)))
    with PageFetcher(quick) as fetcher:
        assert jobs.run_once(engine, quick, fetcher) == 1
    row = copy_row(engine, bookmark_id)
    assert row["state"] == "failed" and "took too long to read (more than 1 s)" in row["reason"]
    assert row["html_z"] is None and row["text"] == "" and row["status"] == 200


def test_control_characters_never_reach_the_database(owner, engine, config, web, pages):
    site = web.site()
    body = ("<title>Null\x00title</title><article><p>" + "Words\x00 between\x07 nulls. " * 20 + "</p></article>").encode()
    bookmark_id = save(owner, site.page("/nul", Page(body)))
    jobs.run_once(engine, config, pages)
    row = copy_row(engine, bookmark_id)
    assert row["state"] == "done" and row["title"] == "Nulltitle"
    assert "Words between nulls." in row["text"] and "\x00" not in row["text"] and "\x07" not in row["text"]


def test_an_import_whose_host_is_busy_gives_its_turn_to_the_next(database_url, owner, engine, web):
    config = make_config(database_url, **{**COPY_SETTINGS, "copies.import_interval": 60})
    busy, free = web.site(), web.site()
    import_bookmarks(engine, [ImportedBookmark(url=busy.url("/a"), title="A")], copy_pages=True)
    import_bookmarks(engine, [ImportedBookmark(url=free.page("/b", Page(html("B", TEXT))), title="B")],
                     copy_pages=True)
    now = utcnow()
    with engine.begin() as conn:  # another worker is fetching from the busy host
        conn.execute(COPY_HOSTS.insert().values(host=f"{busy.host}:{busy.port}", next_at=now - timedelta(days=1),
                                                busy_until=now + timedelta(minutes=5)))
    claimed = jobs.claim(engine, config, now, 4)
    assert [job.host for job in claimed] == [f"{free.host}:{free.port}"]
    assert jobs.claim(engine, config, now + timedelta(seconds=1), 4) == []  # the pace is spent for a minute


def test_an_address_edited_during_a_fetch_is_fetched_again(owner, engine, config, web, pages):
    site = web.site()
    old = site.page("/old", Page(html("Old page", TEXT)))
    bookmark_id = save(owner, old, title="Kept")
    [job] = jobs.claim(engine, config, utcnow(), 4)
    answer = pages.fetch(job.url)
    with engine.begin() as conn:  # the owner edits the address while the worker reads the old page
        copies.address_changed(conn, bookmark_id, site.url("/new"))
    assert jobs.finish(engine, config, job, answer, utcnow()) == "gone"
    row = copy_row(engine, bookmark_id)
    assert row["state"] == "queued" and row["text"] == "" and row["title"] == ""
