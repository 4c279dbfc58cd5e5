"""Fixtures: a fresh app and database per test, on SQLite always and on PostgreSQL when
LINKBLOG_TEST_DATABASE_URL names a server (each test run then gets its own new database there)."""
from __future__ import annotations

import asyncio
import os
import re
import shutil
import uuid
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import create_engine, insert, text

from linkblog import create_app
from linkblog.config import load_config
from linkblog.db import make_engine
from linkblog.federation.keys import generate_key_pair
from linkblog.migrate import upgrade
from linkblog.models import Base, Owner
from linkblog.passwords import hash_password

OWNER = "owner"
PASSWORD = "correct horse battery staple"
BASE_URL = "http://links.test"
PG_URL = os.environ.get("LINKBLOG_TEST_DATABASE_URL", "")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def key_pair() -> tuple[str, str]:
    return generate_key_pair()


@pytest.fixture(scope="session")
def password_hash() -> str:
    return hash_password(PASSWORD)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


def _admin_url(url: str) -> str:
    return re.sub(r"^postgresql(\+psycopg)?://", "postgresql+psycopg://", url)


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A brand-new database for this test run (and this xdist worker), dropped afterwards."""
    if not PG_URL:
        pytest.skip("LINKBLOG_TEST_DATABASE_URL is not set")
    admin = create_engine(_admin_url(PG_URL), isolation_level="AUTOCOMMIT")
    name = f"linkblog_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = _admin_url(PG_URL).rsplit("/", 1)[0] + f"/{name}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate_postgres(url: str) -> None:
    engine = create_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "linkblog.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("postgres_database")
    _truncate_postgres(url)
    return url


def make_config(database_url: str, **extra: object):
    overrides = {("site", "base_url"): BASE_URL, ("security", "secret_key"): "t" * 40,
                 ("database", "url"): database_url, ("site", "page_size"): 5}
    overrides.update({tuple(k.split(".", 1)): v for k, v in extra.items()})  # type: ignore[misc]
    return load_config(None, environ={}, overrides=overrides)


@pytest.fixture
def config(database_url: str):
    return make_config(database_url)


@pytest.fixture
def app(config, key_pair, password_hash):
    application = create_app(config)
    application.config["TESTING"] = True
    engine = application.extensions["linkblog"].engine
    with engine.begin() as conn:
        conn.execute(insert(Owner).values(id=1, username=OWNER, display_name="The Owner", summary="",
                                          password_hash=password_hash, session_epoch=1,
                                          private_key_pem=key_pair[0], public_key_pem=key_pair[1]))
    yield application
    engine.dispose()


@pytest.fixture
def engine(app):
    return app.extensions["linkblog"].engine


@pytest.fixture
def client(app):
    return app.test_client()


def csrf_of(client) -> str:  # noqa: ANN001
    """The CSRF token of the client's session (creating one as a page with a form would)."""
    client.get("/login")
    with client.session_transaction() as session:
        token = session.get("csrf")
    if token is None:  # logged in: /login redirects, but every owner page carries a form
        client.get("/")
        with client.session_transaction() as session:
            token = session["csrf"]
    return token


def login(client, password: str = PASSWORD):  # noqa: ANN001, ANN201
    token = csrf_of(client)
    return client.post("/login", data={"username": OWNER, "password": password, "csrf_token": token})


@pytest.fixture
def owner(app):
    """A test client logged in as the owner; ``owner.csrf`` is its form token."""
    c = app.test_client()
    response = login(c)
    assert response.status_code == 302, response.data
    c.csrf = csrf_of(c)
    return c


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def run_async(make_coroutine):  # noqa: ANN001, ANN201
    """asyncio.run() in a thread of its own: a Playwright (sync API) browser test earlier in the same
    xdist worker leaves an event loop running on the main thread, where asyncio.run() is refused."""
    import threading

    outcome: dict = {}

    def target() -> None:
        try:
            outcome["value"] = asyncio.run(make_coroutine())
        except BaseException as exc:  # noqa: BLE001  (re-raised on the caller's thread)
            outcome["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
