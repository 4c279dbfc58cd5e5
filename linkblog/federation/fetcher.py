"""The process's one guarded HTTP client, and signed GETs made with the owner's key.

Web processes (key fetches while verifying an inbox POST, following) and the worker (actor and object
fetches while processing the inbox) all build their client here, so the SSRF policy comes from one
place: ``[federation] allow_private_addresses`` and nothing else. Fetches are signed because servers in
authorized-fetch mode (Mastodon's secure mode, GoToSocial) refuse unsigned GETs, keys included.
"""
from __future__ import annotations

import os
import threading
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, select

from ..config import Config
from ..models import OWNER_TABLE
from ..queries.owner import is_the_owner
from .objects import urls
from .net import AP_ACCEPT, AP_CONTENT_TYPES, FetchClient, FetchPolicy, parse_json_object
from .signatures import SignatureAuth

_clients: dict[tuple[int, str, bool], FetchClient] = {}
_lock = threading.Lock()


def fetch_policy(config: Config) -> FetchPolicy:
    return FetchPolicy.for_site(config.base_url,
                                allow_private_addresses=config.get("federation", "allow_private_addresses"))


def fetch_client(config: Config) -> FetchClient:
    """One client per process and policy: connections are pooled, and a forked worker never reuses its
    parent's sockets (the pid is part of the key)."""
    key = (os.getpid(), config.base_url, bool(config.get("federation", "allow_private_addresses")))
    with _lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = FetchClient(fetch_policy(config))
        return client


class Fetch(Protocol):
    """What the key cache and the inbox need from the network: a JSON object by URL.

    With ``check_id`` (the default) the document's ``id`` must be exactly where it came from; without,
    any JSON object is returned (only for key stubs, whose owner is then fetched with the check)."""

    def __call__(self, url: str, *, check_id: bool = True) -> dict[str, Any]: ...


class SignedFetcher:
    """Signed GETs through a FetchClient; the owner's key is read only when a fetch actually happens."""

    def __init__(self, client: FetchClient, db: Engine | Connection, config: Config) -> None:
        self.client = client
        self._db = db
        self._config = config
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
        if check_id:
            return self.client.fetch_json(url, auth=self.auth())
        fetched = self.client.get(url, accept=AP_ACCEPT, content_types=AP_CONTENT_TYPES, auth=self.auth())
        return parse_json_object(fetched)


def signed_fetcher(db: Engine | Connection, config: Config, client: FetchClient | None = None) -> SignedFetcher:
    return SignedFetcher(client or fetch_client(config), db, config)


__all__ = ["Fetch", "SignedFetcher", "fetch_client", "fetch_policy", "signed_fetcher"]
