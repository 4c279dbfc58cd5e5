"""The `federation` marker and a `fedify_peers` fixture for tests that need a Fedify peer."""
from __future__ import annotations

import os
from typing import Callable, Iterator

import pytest

from .fedify_peer import FedifyPeer, PeerUnavailable, node_binary


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "federation: talks ActivityPub to a real peer (the Fedify peer in tests/peers)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def require_node() -> None:
    """Skip when Node.js is missing, except in CI (CI=true), where that is a failure."""
    try:
        node_binary()
    except PeerUnavailable as exc:
        if _in_ci():
            pytest.fail(f"the Fedify peer cannot run in CI: {exc}", pytrace=False)
        pytest.skip(f"the Fedify peer needs Node.js: {exc}")


@pytest.fixture
def fedify_peers(request: pytest.FixtureRequest) -> Iterator[Callable[..., FedifyPeer]]:
    """A factory: ``fedify_peers("alice", **options)`` starts a peer, stopped after the test.

    A failing test shows each peer's stderr log."""
    require_node()
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
