"""Link-check tests' shared pieces: the config that checks links on loopback, and an injected clock."""
from __future__ import annotations

from datetime import datetime, timedelta

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
