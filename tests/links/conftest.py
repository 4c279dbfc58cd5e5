"""Fixtures of the link-check tests: a config that checks links on loopback, the loopback web, an injected
clock, and a checking ``Run`` over the test's engine."""
from __future__ import annotations

from typing import Callable, Iterator

import pytest

from linkblog.federation.net import FetchClient
from linkblog.links.checks import Pacer, Rules, Run, link_policy

from tests.support.app import make_config
from tests.support.links import LINKS, Clock
from tests.support.testweb import Web

@pytest.fixture
def config(database_url: str):
    """The app's config, checking links, allowed to reach the loopback test sites."""
    return make_config(database_url, **LINKS)


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
