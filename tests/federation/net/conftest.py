"""Fixtures of the guarded-client tests: the fake resolver (on for every test here), the server, and the
sync/async runner every behaviour is checked with."""
from __future__ import annotations

import socket
from typing import Iterator

import pytest

from tests.federation.net.servers import FakeDNS, Runner, Server, serve


@pytest.fixture(autouse=True)
def dns(monkeypatch: pytest.MonkeyPatch) -> FakeDNS:
    """No test here ever queries real DNS (see ``servers.FakeDNS``); ``dns.answers`` scripts names."""
    fake = FakeDNS()
    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return fake


@pytest.fixture(params=["sync", "async"])
def run(request: pytest.FixtureRequest) -> Runner:
    return Runner(request.param)


@pytest.fixture
def server() -> Iterator[Server]:
    yield from serve()
