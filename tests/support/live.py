"""Real linkblog instances for end-to-end tests: made by `linkblog init`, served by `linkblog serve`
(gunicorn plus the federation worker) as separate processes on loopback, on SQLite or PostgreSQL."""
from __future__ import annotations

import http.cookiejar
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from sqlalchemy import create_engine, text

SCRIPT = Path(sys.executable).parent / "linkblog"
STARTUP_SECONDS = 30


def stop_process(process: subprocess.Popen, timeout: float = 15) -> None:
    """SIGTERM (gunicorn and the worker shut down cleanly), then SIGKILL if it is still there after ``timeout``."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def children(pid: int) -> list[int]:
    """The process ids of ``pid``'s children, from /proc: those of every thread (`serve` restarts its worker
    from a thread, and /proc lists a child under the thread that started it)."""
    found: list[int] = []
    for path in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(p) for p in path.read_text().split()]
        except FileNotFoundError:  # the thread ended meanwhile
            pass
    return found


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except FileNotFoundError:
        return ""


def alive(pid: int) -> bool:
    """Running, and not a zombie waiting to be reaped."""
    try:
        os.kill(pid, 0)
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except (ProcessLookupError, FileNotFoundError):
        return False


def worker_of(serve_pid: int) -> int | None:
    """The federation worker `linkblog serve` started, if there is one: its child forked as the worker or
    running `... worker`."""
    return next((p for p in children(serve_pid) if is_worker(p) and alive(p)), None)


def is_worker(pid: int) -> bool:
    """A federation worker or one of its delivery processes: forked by `serve` (named linkblog-worker, its
    command line is serve's) or started as `linkblog worker`."""
    try:
        name = Path(f"/proc/{pid}/comm").read_text().strip()
    except FileNotFoundError:
        name = ""
    return name == "linkblog-worker" or command_line(pid).endswith(" worker")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_env() -> dict[str, str]:
    """An instance uses its own config, whatever the test run's environment says."""
    return {k: v for k, v in os.environ.items() if not k.startswith("LINKBLOG_")}


def new_postgres_database(server_url: str) -> tuple[str, str]:
    """A fresh database on the test server; returns (its URL, its name) for dropping later."""
    admin = create_engine(re.sub(r"^postgresql(\+psycopg)?://", "postgresql+psycopg://", server_url),
                          isolation_level="AUTOCOMMIT")
    name = f"linkblog_live_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return re.sub(r"/[^/]*$", f"/{name}", server_url), name


def drop_postgres_database(server_url: str, name: str) -> None:
    admin = create_engine(re.sub(r"^postgresql(\+psycopg)?://", "postgresql+psycopg://", server_url),
                          isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@dataclass
class Instance:
    directory: Path
    username: str = "owner"
    database_url: str | None = None  # None: SQLite beside the config
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    password: str = ""
    token: str = ""
    process: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def actor(self) -> str:
        return f"{self.base_url}/actor"

    @property
    def config_file(self) -> Path:
        return self.directory / "config.toml"

    @property
    def env(self) -> dict[str, str]:
        env = clean_env()
        # No page copies unless the test asks: the bookmarks it saves must never be fetched from outside loopback.
        env["LINKBLOG_COPIES_MODE"] = self.settings.get("copies", {}).get("mode", "off")
        if self.database_url:
            env["LINKBLOG_DATABASE_URL"] = self.database_url
        return env

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run([str(SCRIPT), "--config", str(self.config_file), *args], capture_output=True,
                                text=True, env=self.env, timeout=60)
        if check:
            assert result.returncode == 0, f"linkblog {' '.join(args)}: {result.stdout}{result.stderr}"
        return result

    def init(self) -> "Instance":
        result = subprocess.run([str(SCRIPT), "init", "--dir", str(self.directory), "--base-url", self.base_url,
                                 "--username", self.username], capture_output=True, text=True, env=self.env,
                                timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr
        self.password = re.search(r"^Password:\s*(\S+)", result.stdout, re.M).group(1)
        with self.config_file.open("a", encoding="utf-8") as handle:
            # a real worker never checks the made-up URLs of a test's bookmarks unless the test asks for it
            for section, values in {"links": {"check": False}, **self.settings}.items():
                handle.write(f"\n[{section}]\n")
                for key, value in values.items():
                    handle.write(f"{key} = {json.dumps(value)}\n")
        self.token = self.cli("token", "create", "tests").stdout.strip().splitlines()[-1]
        return self

    def start(self, *extra: str) -> "Instance":
        log = (self.directory / "serve.log").open("w")
        self.process = subprocess.Popen([str(SCRIPT), "--config", str(self.config_file), "serve", "--port",
                                         str(self.port), "--workers", "2", *extra],
                                        stdout=log, stderr=subprocess.STDOUT, env=self.env)
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited: {self.log()}")
            try:
                urllib.request.urlopen(self.base_url + "/", timeout=2).close()
                return self
            except urllib.error.HTTPError:
                return self
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError(f"server did not start: {self.log()}") from None
                time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)

    def log(self) -> str:
        path = self.directory / "serve.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def api(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """The owner's JSON API with the bearer token made at init."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base_url + path, data=data, method=method, headers={
            "Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                raw = response.read()
                return response.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            return exc.code, json.loads(raw) if raw else None

    def get_json(self, url: str, accept: str = "application/activity+json") -> tuple[int, Any]:
        request = urllib.request.Request(url, headers={"Accept": accept})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, None

    def page(self, path: str) -> str:
        """A page's HTML, as a reader's browser (not logged in) gets it."""
        with urllib.request.urlopen(self.base_url + path, timeout=10) as response:
            return response.read().decode()

    def owner_session(self) -> tuple[urllib.request.OpenerDirector, str]:
        """Log in to the web UI as the owner: an opener holding the session cookie (it does not follow
        redirects) and a CSRF token for forms."""
        jar = http.cookiejar.CookieJar()

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
                return None

        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)

        def csrf(page: str) -> str:
            return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)

        login_page = opener.open(self.base_url + "/login", timeout=10).read().decode()
        form = urllib.parse.urlencode({"username": self.username, "password": self.password,
                                       "csrf_token": csrf(login_page)}).encode()
        try:
            opener.open(self.base_url + "/login", data=form, timeout=10)
        except urllib.error.HTTPError as exc:
            assert exc.code == 302, exc.read()
        return opener, csrf(opener.open(self.base_url + "/admin/", timeout=10).read().decode())

    def owner_post(self, path: str, **fields: str) -> int:
        """Submit a form as the owner's browser would; returns the status (302/303 on success)."""
        opener, token = self.owner_session()
        data = urllib.parse.urlencode({"csrf_token": token, **fields}).encode()
        try:
            return opener.open(self.base_url + path, data=data, timeout=10).status
        except urllib.error.HTTPError as exc:
            return exc.code

    def owner_page(self, path: str) -> str:
        """A page only the owner may see (the network page, the admin), as their browser gets it."""
        opener, _ = self.owner_session()
        with opener.open(self.base_url + path, timeout=10) as response:
            return response.read().decode()

    def sql(self, query: str, **params: Any) -> list[Any]:
        """What the server really stored, read straight from its database."""
        url = self.database_url or f"sqlite:///{self.directory / 'linkblog.db'}"
        engine = create_engine(re.sub(r"^postgresql://", "postgresql+psycopg://", url))
        try:
            with engine.connect() as conn:
                return list(conn.execute(text(query), params))
        finally:
            engine.dispose()


def wait_for(check, timeout: float = 20.0, interval: float = 0.2, what: str = "condition"):  # noqa: ANN001, ANN201
    """Poll until ``check()`` returns something truthy (federation is asynchronous by design)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; last value: {value!r}")
        time.sleep(interval)


@contextmanager
def running(names: tuple[str, ...], backend: str, make_dir: Any, *, pg_url: str = "",
            settings: dict[str, dict[str, Any]] | None = None) -> Iterator[list[Instance]]:
    """Instances named ``names`` (their owners' usernames), initialised and serving on loopback, on SQLite or
    each with a new PostgreSQL database (``backend``); stopped and dropped afterwards. ``make_dir(name)``
    gives each its folder (pytest's ``tmp_path_factory.mktemp``)."""
    databases: list[str] = []
    instances = []
    for name in names:
        url = None
        if backend == "postgresql":
            url, db_name = new_postgres_database(pg_url)
            databases.append(db_name)
        instances.append(Instance(Path(make_dir(name)), username=name, database_url=url, settings=settings or {}))
    try:
        for instance in instances:
            instance.init().start()
        yield instances
    finally:
        for instance in instances:
            instance.stop()
        for db_name in databases:
            drop_postgres_database(pg_url, db_name)
