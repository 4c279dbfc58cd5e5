"""Fixtures of the page-copy tests: a site config that may fetch loopback (the test web lives on 127.0.0.x) with
short limits, a loopback web of test sites, and the worker's page fetcher."""
from __future__ import annotations

from typing import Iterator

import pytest

from linkblog.links.fetch import PageFetcher
from tests.support.app import make_config
from tests.support.copies import COPY_SETTINGS
from tests.support.testweb import Web


@pytest.fixture
def config(database_url: str):
    return make_config(database_url, **COPY_SETTINGS)


@pytest.fixture
def web() -> Iterator[Web]:
    with Web() as sites:
        yield sites


@pytest.fixture
def fetcher() -> Iterator[PageFetcher]:
    """The fetcher alone: no database (its tests run once, not once per database)."""
    with PageFetcher(make_config("sqlite:///unused.db", **COPY_SETTINGS)) as pages:
        yield pages
