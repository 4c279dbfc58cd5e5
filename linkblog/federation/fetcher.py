"""The process's one guarded HTTP client, and signed GETs made with the owner's key.

Web processes (key fetches while verifying an inbox POST, following) and the worker (actor and object
fetches while processing the inbox) all build their client here, so the SSRF policy comes from one
place: ``[federation] allow_private_addresses`` and nothing else. Fetches are signed because servers in
authorized-fetch mode (Mastodon's secure mode, GoToSocial) refuse unsigned GETs, keys included.

Every fetch has one total deadline, ``[federation] fetch_timeout``. In a web process, fetches made while
answering a request (a key for an inbox POST or a signed GET) also need one of a few slots
(``web_fetch_concurrency``): a thread waiting on a slow key server is a thread no reader gets, so
beyond those slots the request is refused at once (``FetchesBusy``, answered 503) instead of queueing.
"""
from __future__ import annotations

import contextlib
import os
import threading
from typing import Any, Iterator, Protocol

from sqlalchemy import Connection, Engine, select

from ..config import Config
from ..models import OWNER_TABLE
from ..queries.owner import is_the_owner
from .objects import urls
from .net import AP_ACCEPT, AP_CONTENT_TYPES, FetchClient, FetchPolicy, deadline, parse_json_object
from .signatures import SignatureAuth

_clients: dict[tuple[int, str, bool, int], FetchClient] = {}
_slots: dict[tuple[int, int], threading.BoundedSemaphore] = {}
_lock = threading.Lock()
SLOT_WAIT = 0.05   # seconds a request may wait for a fetch slot before it is refused (its thread waits too)


class FetchesBusy(Exception):
    """Every fetch slot of this web process is taken (slow key servers): refuse, the sender retries."""


def fetch_policy(config: Config) -> FetchPolicy:
    """``fetch_timeout`` is the one total deadline of a fetch; the per-step limits fit inside it."""
    total = float(config.get("federation", "fetch_timeout"))
    return FetchPolicy.for_site(config.base_url,
                                allow_private_addresses=config.get("federation", "allow_private_addresses"),
                                connect_timeout=min(5.0, total), read_timeout=min(10.0, total), total_timeout=total)


def fetch_client(config: Config) -> FetchClient:
    """One client per process and policy: connections are pooled, and a forked worker never reuses its
    parent's sockets (the pid is part of the key)."""
    key = (os.getpid(), config.base_url, bool(config.get("federation", "allow_private_addresses")),
           config.get("federation", "fetch_timeout"))
    with _lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = FetchClient(fetch_policy(config))
        return client


@contextlib.contextmanager
def fetch_slot(config: Config) -> Iterator[None]:
    """One of this process's ``web_fetch_concurrency`` slots for the fetches of one request, or
    ``FetchesBusy`` after a short wait."""
    size = int(config.get("federation", "web_fetch_concurrency"))
    key = (os.getpid(), size)
    with _lock:
        slots = _slots.get(key)
        if slots is None:
            slots = _slots[key] = threading.BoundedSemaphore(size)
    if not slots.acquire(timeout=SLOT_WAIT):
        raise FetchesBusy(f"all {size} key fetches of this process are busy; retry later")
    try:
        yield
    finally:
        slots.release()


class Fetch(Protocol):
    """What the key cache and the inbox need from the network: a JSON object by URL.

    With ``check_id`` (the default) the document's ``id`` must be exactly where it came from; without,
    any JSON object is returned (only for key stubs, whose owner is then fetched with the check)."""

    def __call__(self, url: str, *, check_id: bool = True) -> dict[str, Any]: ...


class SignedFetcher:
    """Signed GETs through a FetchClient; the owner's key is read only when a fetch actually happens."""

    def __init__(self, client: FetchClient, db: Engine | Connection, config: Config, *,
                 slotted: bool = False) -> None:
        """``slotted``: each fetch takes a ``fetch_slot`` (web requests; the worker's own thread needs none)."""
        self.client = client
        self._db = db
        self._config = config
        self._slotted = slotted
        self._auth: SignatureAuth | None = None

    def auth(self) -> SignatureAuth:
        if self._auth is None:
            query = select(OWNER_TABLE.c.private_key_pem).where(is_the_owner())
            if isinstance(self._db, Connection):
                private_pem = self._db.execute(query).scalar_one()
            else:
                with self._db.connect() as conn:
                    private_pem = conn.execute(query).scalar_one()
            self._auth = SignatureAuth(urls(self._config).key_id, private_pem)
        return self._auth

    def __call__(self, url: str, *, check_id: bool = True) -> dict[str, Any]:
        if self._slotted:
            with fetch_slot(self._config):
                return self._fetch(url, check_id)
        return self._fetch(url, check_id)

    def _fetch(self, url: str, check_id: bool) -> dict[str, Any]:
        if check_id:
            return self.client.fetch_json(url, auth=self.auth())
        fetched = self.client.get(url, accept=AP_ACCEPT, content_types=AP_CONTENT_TYPES, auth=self.auth())
        return parse_json_object(fetched)


def signed_fetcher(db: Engine | Connection, config: Config, client: FetchClient | None = None, *,
                   slotted: bool = False) -> SignedFetcher:
    return SignedFetcher(client or fetch_client(config), db, config, slotted=slotted)


@contextlib.contextmanager
def request_deadline(config: Config) -> Iterator[None]:
    """One ``fetch_timeout`` for every fetch one request makes (a key stub, its owner, a refetch)."""
    with deadline(float(config.get("federation", "fetch_timeout"))):
        yield


__all__ = ["Fetch", "FetchesBusy", "SignedFetcher", "fetch_client", "fetch_policy", "fetch_slot", "request_deadline",
           "signed_fetcher"]
