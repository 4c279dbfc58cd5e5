"""Fixtures for the tests that need a Fedify peer (``node``, ``fedify_peers``); every test here is marked
``federation`` (the default run leaves them out)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterator

import pytest

from tests.peers.fedify_peer import FedifyPeer, PeerUnavailable, node_binary
from tests.support.markers import mark_folder

HERE = Path(__file__).parent


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test in this folder talks ActivityPub to a real peer: marked ``federation``."""
    mark_folder(items, HERE, pytest.mark.federation)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


@pytest.fixture(scope="session")
def node() -> str:
    """Node.js for the Fedify peer: without it the test is skipped, except in CI (CI=true), where that is a
    failure."""
    try:
        return node_binary()
    except PeerUnavailable as exc:
        if _in_ci():
            pytest.fail(f"the Fedify peer cannot run in CI: {exc}", pytrace=False)
        pytest.skip(f"the Fedify peer needs Node.js: {exc}")


@pytest.fixture
def fedify_peers(request: pytest.FixtureRequest, node: str) -> Iterator[Callable[..., FedifyPeer]]:
    """A factory: ``fedify_peers("alice", **options)`` starts a peer, stopped after the test.

    A failing test shows each peer's stderr log."""
    peers: list[FedifyPeer] = []

    def start(name: str = "alice", **options: object) -> FedifyPeer:
        peer = FedifyPeer(name, **options)  # type: ignore[arg-type]
        peers.append(peer)
        return peer.start()

    yield start
    failed = any(getattr(getattr(request.node, f"rep_{when}", None), "failed", False) for when in ("setup", "call"))
    for peer in peers:
        code = peer.stop()
        if failed:
            print(f"\n----- Fedify peer {peer.name} (exit {code}) stderr -----\n{peer.stderr_text()}")
        peer.cleanup()
