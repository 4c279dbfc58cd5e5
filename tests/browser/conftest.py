"""Real-browser fixtures: a linkblog instance made and served by the real CLI (one per test module and
xdist worker, each on its own port), a second server on another port for "some other site", and
Debian's headless Chromium driven by Playwright."""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

import pytest

from tests.browser.site import LiveSite, log_in
from tests.support.live import stop_process
from tests.support.markers import mark_folder

HERE = Path(__file__).parent
CHROMIUM = os.environ.get("LINKBLOG_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
STARTUP_SECONDS = 30


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test in this folder drives a real browser: marked ``browser`` (the default run leaves them out)."""
    mark_folder(items, HERE, pytest.mark.browser)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_answering(url: str, process: subprocess.Popen, log: Path) -> None:
    """Poll until the server answers; fail with its log if it exits or never comes up."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        if process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answered, even if not with 200
        except OSError:
            if time.monotonic() > deadline:
                pytest.fail(f"the server did not answer {url}:\n{log.read_text()}")
            time.sleep(0.1)


def _clean_env() -> dict[str, str]:
    """The instance must use its own config and SQLite file, whatever the test run's environment says; its
    worker never checks or copies the seeded bookmarks' made-up URLs (no request may leave loopback)."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith("LINKBLOG_")}, "LINKBLOG_LINKS_CHECK": "false",
            "LINKBLOG_COPIES_MODE": "off"}


@pytest.fixture(scope="module")
def live_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSite]:
    """`linkblog init` then `linkblog serve` on a free port, stopped when the module's tests are done."""
    script = Path(sys.executable).parent / "linkblog"
    directory = tmp_path_factory.mktemp("site")
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = _clean_env()
    init = subprocess.run([str(script), "init", "--dir", str(directory), "--base-url", base_url],
                          capture_output=True, text=True, env=env, timeout=60)
    assert init.returncode == 0, init.stdout + init.stderr
    username = re.search(r"^Owner login:\s*(\S+)", init.stdout, re.M)
    password = re.search(r"^Password:\s*(\S+)", init.stdout, re.M)
    assert username and password, init.stdout
    log = directory / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen([str(script), "--config", str(directory / "config.toml"), "serve",
                                    "--port", str(port), "--workers", "1"],
                                   stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        wait_until_answering(base_url + "/", process, log)
        yield LiveSite(base_url, directory, username.group(1), password.group(1))
    finally:
        stop_process(process, timeout=10)


class _OtherSite(BaseHTTPRequestHandler):
    """Some other website: serves the test page at any path (the query makes each test's URL unique)."""

    def do_GET(self) -> None:  # noqa: N802
        if urlsplit(self.path).path == "/favicon.ico":
            self.send_error(404)
            return
        body = (HERE / "page.html").read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture(scope="session")
def other_site() -> Iterator[str]:
    """Base URL of a plain HTTP server on another port (another origin) serving tests/browser/page.html."""
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _OtherSite)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def chromium():  # noqa: ANN201
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: install Debian's (apt-get install chromium) or set "
                    "LINKBLOG_CHROMIUM; tests/run.sh does this for you")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def offline_chromium(chromium):  # noqa: ANN001, ANN201
    """Chromium that resolves no name but 127.0.0.1: a page that sends the reader to another server
    (https://mastodon.social/...) ends in a failed request the test can read, and nothing leaves the machine
    (Playwright's routes do not see the target of a server's redirect, so they cannot stand in for it)."""
    browser = chromium.browser_type.launch(
        executable_path=CHROMIUM, args=CHROMIUM_ARGS + ["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"])
    yield browser
    browser.close()


@pytest.fixture
def context(chromium):  # noqa: ANN001, ANN201
    """A fresh browser profile (no cookies) per test."""
    ctx = chromium.new_context(viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(10_000)
    yield ctx
    ctx.close()


@pytest.fixture(scope="module")
def owner_state(chromium, live_site: LiveSite) -> dict:  # noqa: ANN001
    """Cookies of one owner login per instance (logging in is deliberately slow: password hashing)."""
    ctx = chromium.new_context()
    page = ctx.new_page()
    page.goto(live_site.url("/login"))
    log_in(page, live_site)
    state = ctx.storage_state()
    ctx.close()
    return state


@pytest.fixture
def owner_context(chromium, owner_state: dict):  # noqa: ANN001, ANN201
    """A browser profile logged in as the owner."""
    ctx = chromium.new_context(viewport={"width": 1280, "height": 900}, storage_state=owner_state)
    ctx.set_default_timeout(10_000)
    yield ctx
    ctx.close()
