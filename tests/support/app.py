"""The app under test, in-process: who the owner is, the site's address, configs, and logging in."""
from __future__ import annotations

import os
from typing import Any

from linkblog.config import Config, load_config

OWNER = "owner"
PASSWORD = "correct horse battery staple"
BASE_URL = "http://links.test"
PG_URL = os.environ.get("LINKBLOG_TEST_DATABASE_URL", "")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


def make_config(database_url: str, **extra: object) -> Config:
    # Page copies are off unless a test turns them on (tests/support/copies.py): a worker run by a test must never
    # try to fetch a bookmark's page from outside loopback.
    overrides = {("site", "base_url"): BASE_URL, ("security", "secret_key"): "t" * 40,
                 ("database", "url"): database_url, ("site", "page_size"): 5, ("copies", "mode"): "off",
                 ("links", "check"): False}  # a worker under test never checks or copies made-up URLs (opt in)
    overrides.update({tuple(k.split(".", 1)): v for k, v in extra.items()})  # type: ignore[misc]
    return load_config(None, environ={}, overrides=overrides)


def csrf_of(client: Any) -> str:
    """The CSRF token of the client's session (creating one as a page with a form would)."""
    client.get("/login")
    with client.session_transaction() as session:
        token = session.get("csrf")
    if token is None:  # logged in: /login redirects, but every owner page carries a form
        client.get("/")
        with client.session_transaction() as session:
            token = session["csrf"]
    return token


def login(client: Any, password: str = PASSWORD) -> Any:
    token = csrf_of(client)
    return client.post("/login", data={"username": OWNER, "password": password, "csrf_token": token})
