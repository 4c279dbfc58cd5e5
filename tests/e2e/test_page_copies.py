"""Page copies with a real `linkblog serve`: its worker's third loop fetches a saved page from a loopback test
site, reads it in its child process, fills the blank title and keeps the copy, while a gzip bomb and a page that
never answers on other hosts fail or wait with their reasons, and the worker keeps going."""
from __future__ import annotations

import os
from typing import Iterator

import pytest

from tests.support.live import Instance, running, wait_for
from tests.support.testweb import Page, Web, gzip_bomb, html

pytestmark = pytest.mark.slow  # a real `linkblog serve`

PG_URL = os.environ.get("LINKBLOG_TEST_DATABASE_URL", "")
TEXT = ("The heron stood in the shallow water for a long time, watching the reeds move in the wind, "
        "and nobody on the bank said a word while it waited for a fish. ") * 3
SETTINGS = {"federation": {"allow_private_addresses": True},
            "copies": {"mode": "all", "timeout": 3, "host_gap": 0, "import_interval": 0}}


@pytest.fixture(params=["sqlite"] + (["postgresql"] if PG_URL else []))
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    with running(("site",), request.param, tmp_path_factory.mktemp, pg_url=PG_URL, settings=SETTINGS) as [instance]:
        yield instance


def test_the_served_worker_copies_pages_and_survives_hostile_ones(site):
    with Web() as web:
        good, bomb, silent = web.site(), web.site(), web.site()
        ids = {}
        for name, url in (("good", good.page("/heron", Page(html("The Heron", TEXT)))),
                          ("bomb", bomb.page("/bomb", gzip_bomb(50 * 1024 * 1024))),
                          ("silent", silent.page("/silent", Page(html("Never"), delay=60)))):
            status, body = site.api("POST", "/api/bookmarks", {"url": url})
            assert status == 201, body
            ids[name] = body["id"]

        def state(name: str) -> tuple:
            rows = site.sql("SELECT state, reason FROM page_copies WHERE bookmark_id = :id", id=ids[name])
            return tuple(rows[0]) if rows else ()

        wait_for(lambda: state("good")[0] == "done", timeout=30, what="the good page's copy")
        wait_for(lambda: state("bomb")[0] == "failed", timeout=30, what="the bomb's failure")
        wait_for(lambda: "too long" in state("silent")[1], timeout=30, what="the silent page's reason")
        title = site.sql("SELECT title FROM bookmarks WHERE id = :id", id=ids["good"])[0][0]
        assert title == "The Heron"
        assert "larger than the size limit" in state("bomb")[1]
        assert "The heron stood in the shallow water" in site.owner_page(f"/bookmarks/{ids['good']}/copy")
        assert "Traceback" not in site.log()
