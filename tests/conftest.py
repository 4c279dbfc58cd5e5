"""Fixtures: a fresh app and database per test, on SQLite always and on PostgreSQL when
LINKBLOG_TEST_DATABASE_URL names a server (each test run then gets its own new database there)."""
from __future__ import annotations

import os
import re
import shutil
import uuid
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import create_engine, insert, text

from linkblog import create_app
from linkblog.db import make_engine
from linkblog.federation.keys import generate_key_pair
from linkblog.migrate import upgrade
from linkblog.models import Owner
from linkblog.passwords import hash_password

from tests.support.app import BACKENDS, OWNER, PASSWORD, PG_URL, csrf_of, login, make_config
from tests.support.bookmarks import BookmarkFactory
from tests.support.cli import run
from tests.support.databases import admin_url, truncate_postgres


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


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A brand-new database for this test run (and this xdist worker), dropped afterwards."""
    if not PG_URL:
        pytest.skip("LINKBLOG_TEST_DATABASE_URL is not set")
    admin = create_engine(admin_url(PG_URL), isolation_level="AUTOCOMMIT")
    name = f"linkblog_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url(PG_URL).rsplit("/", 1)[0] + f"/{name}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "linkblog.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("postgres_database")
    truncate_postgres(url)
    return url


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


@pytest.fixture
def owner(app):
    """A test client logged in as the owner; ``owner.csrf`` is its form token."""
    c = app.test_client()
    response = login(c)
    assert response.status_code == 302, response.data
    c.csrf = csrf_of(c)
    return c


@pytest.fixture
def make_bookmark(engine, config) -> BookmarkFactory:
    """Bookmarks to start from: ``make_bookmark(url, title, tags=..., created_at=..., federate=True)`` saves
    one as the app does, ``make_bookmark.row(url, ...)`` stores a bare row (tests/support/bookmarks.py)."""
    return BookmarkFactory(engine, config)


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def instance(tmp_path: Path, database_url: str) -> dict:
    """`linkblog init` into a temporary folder, on SQLite or (via LINKBLOG_DATABASE_URL) PostgreSQL."""
    env = {"LINKBLOG_CONFIG": ""}
    if database_url.startswith("postgresql"):
        env["LINKBLOG_DATABASE_URL"] = database_url
    folder = tmp_path / "inst"
    result = run("init", "--dir", str(folder), "--base-url", "https://links.example.org", "--username", "ada",
                 env=env)
    assert result.exit_code == 0, result.output
    password = re.search(r"^Password:\s+(\S+)$", result.output, re.M).group(1)
    url = database_url if database_url.startswith("postgresql") else f"sqlite:///{(folder / 'linkblog.db').resolve()}"
    return {"dir": folder, "config": folder / "config.toml", "password": password, "output": result.output,
            "env": env, "url": url}
