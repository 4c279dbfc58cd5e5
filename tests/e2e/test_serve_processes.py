"""`linkblog serve` runs gunicorn and the federation worker; a web worker dying must not take the
federation worker with it, and stopping the server stops both."""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from tests.support.live import Instance, alive, children, command_line, wait_for, worker_of

pytestmark = pytest.mark.slow  # real `linkblog serve` processes


def test_federation_worker_survives_a_web_worker_and_stops_with_the_server(tmp_path):
    site = Instance(tmp_path / "site").init().start()
    try:
        serve = site.process.pid
        worker = wait_for(lambda: worker_of(serve), what="the federation worker process")
        # forked from serve once the app is built (it shares those pages), not a new interpreter
        assert Path(f"/proc/{worker}/comm").read_text().strip() == "linkblog-worker"
        assert command_line(worker) == command_line(serve)
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
