"""Link-check tests' shared pieces: the config that checks links on loopback, and injected clocks."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

START = datetime(2026, 11, 2, 9, 0)

# make_config(...) extras: link checks on, loopback allowed, no waiting between a host's links, a short month.
LINKS = {"federation.allow_private_addresses": True, "links.check": True, "links.per_host_gap": 0,
         "links.check_interval_days": 2, "links.retry_hours": 24, "links.unreachable_checks": 3,
         "links.unreachable_days": 7, "links.check_timeout": 2}


class Clock:
    """The time the checker sees; tests move it by hand."""

    def __init__(self, start: datetime = START) -> None:
        self.at = start

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> datetime:
        self.at += timedelta(**delta)
        return self.at


class Ticks:
    """The monotonic clock a ``Pacer`` waits on, moved by its own sleeps without waiting; each wait is kept."""

    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []

    def sleep(self, seconds: float) -> None:
        if seconds:
            self.waits.append(seconds)
        self.now += seconds

    def pacer(self, gap: float) -> Any:
        from linkblog.links.turns import Pacer

        return Pacer(gap, monotonic=lambda: self.now, sleep=self.sleep)
