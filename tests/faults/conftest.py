"""The fault suite: every test in this folder is marked ``faults``, so ``pytest -m faults`` runs them all (the
slow ones, real ``linkblog serve`` processes, included); ``pytest tests/faults`` runs the fast ones (injected
clock, in-process worker against real loopback peers). Fixtures: the loopback ``inboxes``, a config that may
reach them, and ``postgres_server`` for the faults only PostgreSQL can show."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest

from tests.faults.peers import LoopbackInboxes
from tests.support.app import PG_URL, make_config
from tests.support.markers import mark_folder

HERE = Path(__file__).parent


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test in this folder is a fault survived: marked ``faults``."""
    mark_folder(items, HERE, pytest.mark.faults)


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


@pytest.fixture
def postgres_server() -> str:
    """LINKBLOG_TEST_DATABASE_URL, for faults that need PostgreSQL (``pg_terminate_backend``, a dropped
    database): without it the test is skipped, except in CI (CI=true), where that is a failure."""
    if not PG_URL:
        if in_ci():
            pytest.fail("this fault needs PostgreSQL: set LINKBLOG_TEST_DATABASE_URL (tests/run.sh does when "
                        "a server answers on 127.0.0.1:5432)", pytrace=False)
        pytest.skip("this fault needs PostgreSQL: set LINKBLOG_TEST_DATABASE_URL")
    return PG_URL


@pytest.fixture
def inboxes() -> Iterator[LoopbackInboxes]:
    """Many follower inboxes (``inboxes.inbox(n)``) behind one real HTTP server on 127.0.0.1."""
    peer = LoopbackInboxes()
    yield peer
    peer.close()


@pytest.fixture
def loopback_config(database_url: str):
    """The app's config, allowed to deliver to loopback peers."""
    return make_config(database_url, **{"federation.allow_private_addresses": True})
