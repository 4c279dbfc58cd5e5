"""Fixtures of the link-check and page-copy tests: a config that may reach the loopback web (the module's
``SETTINGS``: ``tests.support.links.LINKS`` checks links, ``tests.support.copies.COPY_SETTINGS`` takes copies;
each leaves the other off, so a test sees only the requests it caused), the loopback web of test sites, an
injected clock, a checking ``Run`` over the test's engine, and the worker's page fetcher."""
from __future__ import annotations

from typing import Callable, Iterator

import pytest

from linkblog.federation.net import FetchClient
from linkblog.links.checks import Pacer, Rules, Run, link_policy
from linkblog.links.fetch import PageFetcher
from tests.support.app import make_config
from tests.support.copies import COPY_SETTINGS
from tests.support.links import Clock
from tests.support.testweb import Web


@pytest.fixture
def config(request: pytest.FixtureRequest, database_url: str):
    """The app's config with the test module's ``SETTINGS``."""
    return make_config(database_url, **request.module.SETTINGS)


@pytest.fixture
def web() -> Iterator[Web]:
    with Web() as sites:
        yield sites


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fetch_client(config) -> Iterator[FetchClient]:  # noqa: ANN001
    with FetchClient(link_policy(config)) as client:
        yield client


@pytest.fixture
def checker(engine, config, fetch_client, clock) -> Callable[..., Run]:  # noqa: ANN001
    """``checker(**rules)``: a Run on the test's database, the injected clock, no jitter (next checks land
    exactly one interval later) and no waiting between a host's links unless asked."""
    def make(pacer: Pacer | None = None, **changes: object) -> Run:
        rules = Rules.of(config)
        if changes:
            rules = Rules(**{**rules.__dict__, **changes})
        return Run(engine, fetch_client, rules, now=clock, pacer=pacer or Pacer(0), jitter=lambda: 0.5)
    return make


@pytest.fixture
def fetcher() -> Iterator[PageFetcher]:
    """The fetcher alone: no database (its tests run once, not once per database)."""
    with PageFetcher(make_config("sqlite:///unused.db", **COPY_SETTINGS)) as pages:
        yield pages
