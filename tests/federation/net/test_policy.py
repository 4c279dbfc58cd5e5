"""What the client's policy (``net/policy.py``) says at start-up: the User-Agent, and a warning when
private addresses are allowed."""
from __future__ import annotations

import logging

import pytest

from linkblog.federation.net import FetchPolicy, user_agent, warn_if_private_allowed


# --- start-up helpers -------------------------------------------------------------------------

def test_warning_when_private_addresses_are_allowed(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("linkblog.test.startup")
    with caplog.at_level(logging.WARNING, logger="linkblog.test.startup"):
        warn_if_private_allowed(logger, False)
        assert caplog.records == []
        warn_if_private_allowed(logger, True)
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    assert "allow_private_addresses" in caplog.records[0].getMessage()


def test_user_agent_names_the_site() -> None:
    agent = user_agent("https://links.example")
    assert agent.startswith("linkblog/") and agent.endswith(" (+https://links.example)")
    assert FetchPolicy.for_site("https://links.example").user_agent == agent
