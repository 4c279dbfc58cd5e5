"""Fixtures of the federation tests: fake remote servers, a guarded client, and the fake network and fixed
clock that the signed-request tests switch on (``pytestmark = pytest.mark.usefixtures(...)``)."""
from __future__ import annotations

import ipaddress
import socket
import threading
from typing import Iterator

import pytest

from linkblog.federation import keys
from linkblog.federation.net import FetchClient, FetchPolicy
from linkblog.federation.net import guard as fetch_module
from linkblog.web.incoming import CLOCK_KEY

from tests.federation.fakes import Clock, Remote, RemotePeer
from tests.support.app import BASE_URL

REAL_GETADDRINFO = socket.getaddrinfo


@pytest.fixture
def clock(app) -> Clock:  # noqa: ANN001
    """The app's clock, fixed at ``fakes.NOW``: tests move ``clock.now`` instead of waiting."""
    fixed = Clock()
    app.extensions[CLOCK_KEY] = fixed
    return fixed


@pytest.fixture
def loopback_only(monkeypatch):  # noqa: ANN001, ANN201
    """Numeric addresses resolve as usual; a name would need DNS, which these tests never use."""
    def resolve(host, port):  # noqa: ANN001, ANN202
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise OSError(f"tests never resolve {host!r}") from None
        return REAL_GETADDRINFO(host, port, type=socket.SOCK_STREAM)

    monkeypatch.setattr(fetch_module, "_getaddrinfo", resolve)


@pytest.fixture
def forget_failed_keys():  # noqa: ANN201
    """Key fetches that failed in an earlier test are not remembered in this one."""
    keys.FAILURES.clear()
    yield
    keys.FAILURES.clear()


@pytest.fixture
def peer() -> Iterator[RemotePeer]:
    """A fake fediverse server that signs what it posts to our inbox (``fakes.RemotePeer``)."""
    remote = RemotePeer.start()
    yield remote
    remote.close()


@pytest.fixture
def remote() -> Iterator[Remote]:
    """A plain fake fediverse server: WebFinger and actor documents (``fakes.Remote``)."""
    server = Remote()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def other_remote() -> Iterator[Remote]:
    """A second plain fake server, on its own port (so another host): the other side of a split domain,
    or a server answering WebFinger for someone else's account."""
    server = Remote()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def fetcher() -> Iterator[FetchClient]:
    """The guarded client as the site would make it, allowed to reach loopback."""
    with FetchClient(FetchPolicy.for_site(BASE_URL, allow_private_addresses=True)) as client:
        yield client
