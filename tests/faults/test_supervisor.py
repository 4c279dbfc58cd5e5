"""`linkblog serve`'s supervisor of its worker, with real child processes standing in for the worker (a
Python that exits at once): a worker that dies is started again after a growing backoff, each death logged
with how it ended; one that stops cleanly (asked to) is left stopped; stopping the supervisor stops the
worker. The real worker under a real `serve` is killed in test_worker_killed.py."""
from __future__ import annotations

import logging
import sys
import time

from linkblog.cli.server import WorkerSupervisor

from tests.support.live import alive, wait_for


def supervise(code: str, monkeypatch) -> tuple[WorkerSupervisor, list[str]]:  # noqa: ANN001
    monkeypatch.setattr(WorkerSupervisor, "FIRST_DELAY", 0.2)
    monkeypatch.setattr(WorkerSupervisor, "MAX_DELAY", 0.8)
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    log = logging.getLogger(f"test-supervisor-{time.monotonic_ns()}")
    log.addHandler(Keep())
    log.propagate = False
    return WorkerSupervisor([sys.executable, "-c", code], log), lines


def test_a_dying_worker_is_restarted_with_a_growing_backoff(monkeypatch):
    supervisor, lines = supervise("import sys; sys.exit(3)", monkeypatch)
    try:
        wait_for(lambda: supervisor.restarts >= 4, timeout=20, interval=0.05, what="four restarts")
    finally:
        supervisor.stop()
    deaths = [line for line in lines if "restarting it in" in line]
    assert all("exited with status 3" in line for line in deaths)
    delays = [float(line.rsplit(" in ", 1)[1].split()[0]) for line in deaths[:4]]
    assert delays == [0.2, 0.4, 0.8, 0.8]          # doubled each time, up to the cap
    assert any("federation worker restarted" in line for line in lines)


def test_a_killed_worker_is_restarted_and_stop_stops_the_new_one(monkeypatch):
    supervisor, lines = supervise("import time; time.sleep(60)", monkeypatch)
    try:
        first = supervisor.process.pid
        supervisor.process.kill()
        wait_for(lambda: supervisor.restarts == 1 and alive(supervisor.process.pid), timeout=10, interval=0.05,
                 what="the restart")
        second = supervisor.process.pid
        assert second != first and any("was killed by SIGKILL" in line for line in lines)
    finally:
        supervisor.stop()
    assert not alive(second) and supervisor.restarts == 1


def test_a_worker_that_stops_cleanly_is_not_restarted(monkeypatch):
    supervisor, lines = supervise("pass", monkeypatch)
    try:
        wait_for(lambda: any("stopped cleanly" in line for line in lines), timeout=10, interval=0.05,
                 what="the clean stop to be seen")
        time.sleep(0.5)
        assert supervisor.restarts == 0
    finally:
        supervisor.stop()
