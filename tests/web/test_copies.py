"""``/bookmarks/<id>/copy``, the edit form's copy controls, search in saved pages, the dashboard's import progress
and the settings: through the app, with copies made by the real worker step from a loopback web of test sites."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from linkblog.links import copies, jobs
from linkblog.links.fetch import PageFetcher
from linkblog.models import BOOKMARKS
from linkblog.transfer.formats.entries import ImportedBookmark
from linkblog.transfer.importer import import_bookmarks
from tests.support.app import csrf_of, make_config
from tests.support.copies import COPY_SETTINGS
from tests.support.testweb import Page, Web

BODY = ("<p>The heron stood in the shallow water for a long time, watching the reeds move in the wind. "
        "See <a href=\"https://birds.example/heron\">the heron page</a> for more.</p>"
        "<h2>Waiting</h2><p>Nobody on the bank said a word while the bird waited patiently for a fish, "
        "and the afternoon went by slowly.</p>") * 2
PAGE = ('<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Herons</title>'
        '<meta name="description" content="All about a patient bird."><script src="https://t.example/x.js"></script>'
        f'</head><body><article><h1>Herons</h1>{BODY}<script>track()</script></article></body></html>')


@pytest.fixture
def config(database_url):  # noqa: ANN001, ANN201
    return make_config(database_url, **COPY_SETTINGS)


@pytest.fixture
def web():  # noqa: ANN201
    with Web() as sites:
        yield sites


def save(owner, url: str, **fields) -> int:  # noqa: ANN001
    data = {"url": url, "title": "", "annotation": "", "quote": "", "tags": "", "visibility": "public",
            "csrf_token": owner.csrf, **fields}
    response = owner.post("/save", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(response.headers["Location"].rsplit("/", 1)[1])


def fetch_all(engine, config) -> None:  # noqa: ANN001
    with PageFetcher(config) as fetcher:
        while jobs.run_once(engine, config, fetcher):
            pass


def settings_form(owner, **fields) -> dict:  # noqa: ANN001
    return {"csrf_token": owner.csrf, "title": "My links", "timezone": "UTC", "default_visibility": "public",
            **fields}


def copied(owner, engine, config, web, *, page: str = PAGE, **fields) -> int:  # noqa: ANN001
    site = web.site()
    bookmark_id = save(owner, site.page("/page", Page(page)), **fields)
    fetch_all(engine, config)
    return bookmark_id


def test_the_owner_reads_the_copy_sanitised_with_headings_and_links(owner, engine, config, web):
    bookmark_id = copied(owner, engine, config, web, visibility="private")
    response = owner.get(f"/bookmarks/{bookmark_id}/copy")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "The heron stood in the shallow water" in page and "<h3>Waiting</h3>" in page
    assert 'href="https://birds.example/heron"' in page
    for gone in ("track()", "t.example", "<script>"):
        assert gone not in page
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert f'href="/bookmarks/{bookmark_id}/copy"' in owner.get(f"/bookmarks/{bookmark_id}").get_data(as_text=True)


def test_readers_may_not_read_copies_unless_allowed(owner, client, engine, config, web):
    public = copied(owner, engine, config, web)
    private = copied(owner, engine, config, web, visibility="private")
    assert client.get(f"/bookmarks/{public}/copy").status_code == 404
    assert f"/bookmarks/{public}/copy" not in client.get(f"/bookmarks/{public}").get_data(as_text=True)
    assert owner.post("/admin/settings", data=settings_form(owner, copies_readers_may_see="on")).status_code == 303
    assert client.get(f"/bookmarks/{public}/copy").status_code == 200
    assert f"/bookmarks/{public}/copy" in client.get(f"/bookmarks/{public}").get_data(as_text=True)
    assert client.get(f"/bookmarks/{private}/copy").status_code == 404  # private stays private


@pytest.mark.parametrize("site_wide, choice, shown", [(False, "yes", True), (True, "no", False), (True, "", True)])
def test_each_bookmark_can_override_who_reads_its_copy(owner, client, engine, config, web, site_wide, choice, shown):
    if site_wide:
        owner.post("/admin/settings", data=settings_form(owner, copies_readers_may_see="on"))
    bookmark_id = copied(owner, engine, config, web, title="Herons")
    form = owner.get(f"/bookmarks/{bookmark_id}/edit").get_data(as_text=True)
    assert 'name="copy_readers"' in form
    response = owner.post(f"/bookmarks/{bookmark_id}/edit", data={
        "url": copies.read(engine, bookmark_id).final_url, "title": "Herons", "annotation": "", "quote": "",
        "tags": "", "visibility": "public", "copy_readers": choice, "csrf_token": owner.csrf})
    assert response.status_code == 302
    assert copies.read(engine, bookmark_id).readers is {"yes": True, "no": False, "": None}[choice]
    assert client.get(f"/bookmarks/{bookmark_id}/copy").status_code == (200 if shown else 404)


def test_a_copy_not_made_says_why_to_the_owner_only(owner, client, engine, config, web):
    owner.post("/admin/settings", data=settings_form(owner, copies_readers_may_see="on"))
    site = web.site()
    bookmark_id = save(owner, site.page("/gone", Page("gone", status=410)))
    fetch_all(engine, config)
    page = owner.get(f"/bookmarks/{bookmark_id}/copy").get_data(as_text=True)
    assert "No copy could be made" in page and "HTTP 410" in page
    assert client.get(f"/bookmarks/{bookmark_id}/copy").status_code == 404


def test_the_edit_form_offers_the_page_description_without_overwriting(owner, engine, config, web):
    bookmark_id = copied(owner, engine, config, web)
    url = copies.read(engine, bookmark_id).final_url
    form = owner.get(f"/bookmarks/{bookmark_id}/edit").get_data(as_text=True)
    assert "All about a patient bird." in form and 'name="use_description"' in form
    fields = {"url": url, "title": "Herons", "quote": "", "tags": "", "visibility": "public", "use_description": "1",
              "csrf_token": owner.csrf}
    owner.post(f"/bookmarks/{bookmark_id}/edit", data={**fields, "annotation": "My own words."})
    with engine.connect() as conn:
        assert conn.execute(select(BOOKMARKS.c.annotation).where(BOOKMARKS.c.id == bookmark_id)).scalar() == \
            "My own words."
    owner.post(f"/bookmarks/{bookmark_id}/edit", data={**fields, "annotation": ""})
    with engine.connect() as conn:
        assert conn.execute(select(BOOKMARKS.c.annotation).where(BOOKMARKS.c.id == bookmark_id)).scalar() == \
            "All about a patient bird."


def results(response) -> list[str]:  # noqa: ANN001
    return re.findall(r'class="u-bookmark-of h-cite" href="[^"]*" rel="noopener">([^<]*)</a>',
                      response.get_data(as_text=True))


def test_search_finds_words_of_the_saved_page_below_matches_in_the_bookmark(owner, client, engine, config, web):
    by_page = copied(owner, engine, config, web, title="A bird page", annotation="patient birds")
    assert by_page
    web.site()
    save(owner, "https://example.org/heron-notes", title="Heron notes")  # its own title says heron
    page = owner.get("/search?q=heron").get_data(as_text=True)
    assert results(owner.get("/search?q=heron")) == ["Heron notes", "A bird page"]
    assert page.count('<p class="match-where">Matched in the saved page') == 1
    assert '<p class="match-where">Matched in the title, address</p>' in page  # "heron-notes" in its address
    assert "Found 2 links" in page
    by_note = owner.get("/search?q=patient").get_data(as_text=True)  # the annotation, and the page too
    assert results(owner.get("/search?q=patient")) == ["A bird page"]
    assert '<p class="match-where">Matched in the annotation</p>' in by_note and "saved page" not in \
        by_note.split('class="search-help"')[0]


def test_readers_find_by_the_saved_page_only_what_they_could_read(owner, client, engine, config, web):
    copied(owner, engine, config, web, title="Public one")
    copied(owner, engine, config, web, title="Private one", visibility="private")
    assert sorted(results(owner.get("/search?q=shallow"))) == ["Private one", "Public one"]
    assert results(client.get("/search?q=shallow")) == []
    owner.post("/admin/settings", data=settings_form(owner, copies_readers_may_see="on"))
    assert results(client.get("/search?q=shallow")) == ["Public one"]
    assert "Found 1 link " in client.get("/search?q=shallow").get_data(as_text=True)


def test_search_pages_run_on_from_the_bookmarks_into_the_saved_pages(owner, engine, config, web):
    for n in range(4):
        save(owner, f"https://example.org/own/{n}", title=f"Reeds {n}")
    for n in range(3):
        copied(owner, engine, config, web, title=f"Page only {n}")
    first, second = results(owner.get("/search?q=reeds")), results(owner.get("/search?q=reeds&page=2"))
    assert len(first) == 5 and len(second) == 2  # page_size is 5 in tests
    assert all(t.startswith("Reeds") for t in first[:4]) and first[4].startswith("Page only")
    assert sorted(first[4:] + second) == ["Page only 0", "Page only 1", "Page only 2"]


def test_the_dashboard_shows_how_far_the_imported_pages_are(owner, engine, config, web):
    site = web.site()
    import_bookmarks(engine, [ImportedBookmark(url=site.page(f"/{n}", Page(PAGE)), title=f"I{n}") for n in range(2)]
                     + [ImportedBookmark(url=site.page("/gone", Page("no", status=404)), title="Gone")],
                     copy_pages=True)
    page = owner.get("/admin/").get_data(as_text=True)
    assert "Copies of imported pages" in page and '<span class="copies-queued">3 waiting</span>' in page
    fetch_all(engine, config)
    page = owner.get("/admin/").get_data(as_text=True)
    assert '<span class="copies-done">2 copied</span>' in page
    assert '<span class="copies-failed">1 could not be copied</span>' in page


def test_the_settings_page_turns_copies_off_and_back(owner, engine, web):
    assert 'name="copies_mode" value="all" checked' in owner.get("/admin/settings").get_data(as_text=True)
    owner.post("/admin/settings", data=settings_form(owner, copies_mode="off"))
    assert 'name="copies_mode" value="off" checked' in owner.get("/admin/settings").get_data(as_text=True)
    assert copies.read(engine, save(owner, "https://example.org/no-copy")) is None
    bad = owner.post("/admin/settings", data=settings_form(owner, copies_mode="sometimes"))
    assert bad.status_code == 400 and "Page copies must be one of" in bad.get_data(as_text=True)


def test_a_minus_word_leaves_out_page_matches_too(owner, engine, config, web):
    copied(owner, engine, config, web, title="A page with fish")  # its page says "fish"
    copied(owner, engine, config, web, title="Just herons", page=PAGE.replace("fish", "frog"))
    copied(owner, engine, config, web, title="Fish, says the title", page=PAGE.replace("fish", "frog"))
    assert results(owner.get("/search?q=shallow+-fish")) == ["Just herons"]
    assert results(owner.get("/search?q=shallow+-patiently")) == []  # in every page


def test_the_owner_can_have_a_failed_copy_fetched_again(owner, client, engine, config, web):
    site = web.site()
    answers = [Page("gone", status=404), Page(PAGE)]
    url = site.page("/flaky", lambda seen: answers[min(site.hits("/flaky"), 2) - 1])
    bookmark_id = save(owner, url)
    fetch_all(engine, config)
    assert copies.read(engine, bookmark_id).state == "failed"
    reader = client.post(f"/bookmarks/{bookmark_id}/copy", data={"csrf_token": csrf_of(client)})
    assert reader.status_code in (302, 403) and "/login" in reader.headers.get("Location", "/login")  # never
    assert owner.post(f"/bookmarks/{bookmark_id}/copy", data={}).status_code == 400  # no CSRF token: refused
    assert copies.read(engine, bookmark_id).state == "failed"
    response = owner.post(f"/bookmarks/{bookmark_id}/copy", data={"csrf_token": owner.csrf})
    assert response.status_code == 303 and copies.read(engine, bookmark_id).state == "queued"
    fetch_all(engine, config)
    assert copies.read(engine, bookmark_id).state == "done"
    assert "The heron stood" in owner.get(f"/bookmarks/{bookmark_id}/copy").get_data(as_text=True)
