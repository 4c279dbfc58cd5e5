"""The worker's extra delivery processes: how many, and what happens when one stops. Real forked processes."""
from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest

from linkblog.federation import processes
from tests.support.app import make_config


def test_one_delivery_process_per_cpu_at_most_four_unless_configured(monkeypatch):
    config = make_config("sqlite://")
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(2)))
    assert processes.count(config) == 2
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(32)))
    assert processes.count(config) == 4
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})
    assert processes.count(config) == 1
    assert processes.count(make_config("sqlite://", **{"federation.delivery_processes": 3})) == 3


def test_a_delivery_process_that_stops_is_reported_with_how_it_stopped(tmp_path):
    marker = tmp_path / "ran"

    def deliver() -> None:
        marker.write_text(str(os.getpid()))
        os._exit(3)

    children = processes.fork_deliverers(1, deliver)
    assert len(children) == 1 and children[0] != os.getpid()

    async def watching() -> None:
        await asyncio.wait_for(processes.watch(list(children), asyncio.Event()), 10)

    with pytest.raises(ChildProcessError, match=rf"delivery process {children[0]} stopped \(exit status 3\)"):
        asyncio.run(watching())
    assert marker.read_text() == str(children[0])


def test_stopping_the_worker_stops_its_delivery_processes(tmp_path):
    def deliver() -> None:
        signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
        while True:
            time.sleep(0.05)

    children = processes.fork_deliverers(2, deliver)
    processes.stop_all(children, timeout=10)
    for pid in children:
        with pytest.raises(ChildProcessError):  # reaped: no zombie left behind
            os.waitpid(pid, os.WNOHANG)


def test_a_delivery_process_dies_with_its_worker(tmp_path):
    """Even a SIGKILLed worker leaves no delivery process behind (PR_SET_PDEATHSIG)."""
    pid_file = tmp_path / "grandchild"
    middle = os.fork()
    if middle == 0:  # a stand-in worker: forks a delivery process, then waits to be killed
        def deliver() -> None:
            pid_file.write_text(str(os.getpid()))
            while True:
                time.sleep(0.05)

        processes.fork_deliverers(1, deliver)
        while True:
            time.sleep(0.05)
    try:
        for _ in range(200):
            if pid_file.exists() and pid_file.read_text():
                break
            time.sleep(0.05)
        grandchild = int(pid_file.read_text())
        assert _running(grandchild), "the delivery process should run while its worker does"
        os.kill(middle, signal.SIGKILL)
        os.waitpid(middle, 0)
        for _ in range(200):
            if not _running(grandchild):
                break
            time.sleep(0.05)
        outlived = _running(grandchild)
        if outlived:
            os.kill(grandchild, signal.SIGKILL)
        assert not outlived, "the delivery process outlived its worker"
    finally:
        try:
            os.kill(middle, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _running(pid: int) -> bool:
    """Alive and not a zombie waiting to be reaped."""
    try:
        os.kill(pid, 0)
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (ProcessLookupError, FileNotFoundError):
        return False


def test_the_worker_lowers_its_cpu_priority_by_the_configured_niceness(tmp_path):
    """Done in a fork, so the test process keeps its own priority; the delivery processes forked later inherit it."""
    report = tmp_path / "nice"
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            before = os.nice(0)
            after = processes.lower_priority(make_config("sqlite://", **{"federation.worker_niceness": 3}))
            report.write_text(f"{before} {after} {os.nice(0)}")
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    before, after, now = map(int, report.read_text().split())
    assert after == now == min(19, before + 3)
