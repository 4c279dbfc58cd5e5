"""Fixtures: a fresh app and database per test, on SQLite always and on PostgreSQL when
LINKBLOG_TEST_DATABASE_URL names a server (each test run then gets its own new database there)."""
from __future__ import annotations

import os
import re
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import create_engine, insert, text

from linkblog import create_app, passwords
from linkblog.db import make_engine
from linkblog.federation.keys import generate_key_pair
from linkblog.migrate import upgrade
from linkblog.models import Owner

from tests.support.app import BACKENDS, OWNER, PASSWORD, PG_URL, csrf_of, login, make_config
from tests.support.bookmarks import BookmarkFactory
from tests.support.cli import run
from tests.support.databases import admin_url, truncate_postgres

LEFT_OUT = pytest.StashKey[int]()
LEFT_OUT_MARKERS = ("browser", "federation", "slow")


def _default_markexpr(config: pytest.Config) -> str | None:
    """The ``-m`` expression of pyproject.toml's addopts (the fast default run's filter)."""
    args = config.getini("addopts")
    return next((args[i + 1] for i, arg in enumerate(args[:-1]) if arg == "-m"), None)


def pytest_deselected(items: list[pytest.Item]) -> None:
    """Count the marked tests left out, in the process that collects (an xdist worker, or the only one)."""
    marked = [item for item in items if any(item.get_closest_marker(m) for m in LEFT_OUT_MARKERS)]
    if marked:
        config = marked[0].config
        config.stash[LEFT_OUT] = config.stash.get(LEFT_OUT, 0) + len(marked)


def pytest_sessionfinish(session: pytest.Session) -> None:
    if hasattr(session.config, "workeroutput"):  # an xdist worker: tell the controller
        session.config.workeroutput["left_out"] = session.config.stash.get(LEFT_OUT, 0)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:  # noqa: ANN001
    """xdist's controller collects nothing itself: every worker deselected the same tests, take one count."""
    config = node.config
    config.stash[LEFT_OUT] = max(config.stash.get(LEFT_OUT, 0), node.workeroutput.get("left_out", 0))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, exitstatus: int,
                            config: pytest.Config) -> None:
    """After the default run, say what it left out and how to run that too."""
    markexpr = config.option.markexpr
    if not markexpr or markexpr != _default_markexpr(config):
        return
    terminalreporter.write_sep("-", "left out by default")
    terminalreporter.write_line(
        f"{config.stash.get(LEFT_OUT, 0)} tests marked browser, federation or slow were not run "
        "(the -m of addopts in pyproject.toml).\n"
        "Only those: pytest -m 'browser or federation or slow'    Everything: pytest -m ''\n"
        "Everything, installing the browsers and Node.js they need first: bash tests/run.sh")


@pytest.fixture(scope="session")
def key_pair() -> tuple[str, str]:
    return generate_key_pair()


@pytest.fixture(scope="session")
def password_hash() -> str:
    """The owner's password in the app's own scrypt format, at a tiny cost: ``verify_password`` reads the
    cost from the stored hash, so each login takes microseconds instead of a tenth of a second. Passwords
    the app itself sets during a test (``passwd``, the password form) keep the real cost."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(passwords, "N", 2**4)
        return passwords.hash_password(PASSWORD)


@pytest.fixture(scope="session")
def sqlite_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Where the tests' SQLite files live: a RAM-backed folder when the machine has one (/dev/shm), where a
    commit waits for no disk (a quarter off the database tests' time); pytest's temporary folder otherwise."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path_factory.mktemp("sqlite")
        return
    path = Path(tempfile.mkdtemp(prefix="linkblog-tests-", dir=shm))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def sqlite_template(sqlite_dir: Path) -> Path:
    path = sqlite_dir / "template.db"
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
def database_url(request: pytest.FixtureRequest, sqlite_dir: Path) -> Iterator[str]:
    """A migrated, empty database for this test: a copy of the SQLite template, or the run's PostgreSQL
    database emptied."""
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_database")
        truncate_postgres(url)
        yield url
        return
    path = sqlite_dir / f"{uuid.uuid4().hex}.db"
    shutil.copy(request.getfixturevalue("sqlite_template"), path)
    yield f"sqlite:///{path}"
    for name in (path.name, path.name + "-wal", path.name + "-shm", path.name + "-journal"):
        (path.parent / name).unlink(missing_ok=True)


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
