"""`linkblog serve` runs gunicorn and the federation worker; a web worker dying must not take the
federation worker with it, and stopping the server stops both."""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from tests.support.live import Instance, wait_for

pytestmark = pytest.mark.slow  # real `linkblog serve` processes


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except FileNotFoundError:
        return ""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return not Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"


def test_federation_worker_survives_a_web_worker_and_stops_with_the_server(tmp_path):
    site = Instance(tmp_path / "site").init().start()
    try:
        serve = site.process.pid
        worker = wait_for(lambda: next((p for p in children(serve) if command_line(p).endswith(" worker")), None),
                          what="the federation worker process")
        web = [p for p in children(serve) if p != worker]
        assert web, "gunicorn has web workers"
        os.kill(web[0], signal.SIGTERM)          # a web worker exits (gunicorn replaces it)
        wait_for(lambda: web[0] not in children(serve), what="gunicorn to replace the web worker")
        time.sleep(1.0)
        assert alive(worker), site.log()
        assert site.page("/").startswith("<!doctype html>")
    finally:
        site.stop()
    wait_for(lambda: not alive(worker), what="the federation worker to stop with the server")
