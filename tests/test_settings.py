"""settings.load: the owner's stored values over config.toml, and what it does with values it cannot use."""
from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import insert

from linkblog import settings
from linkblog.models import SETTINGS


def store(engine, **values: str) -> None:
    with engine.begin() as conn:
        conn.execute(insert(SETTINGS), [{"key": k.replace("__", "."), "value": v, "updated_at": datetime(2026, 1, 1)}
                                        for k, v in values.items()])


def test_stored_values_win_and_the_rest_comes_from_config(engine, config):
    store(engine, site__title='"Mine"', federation__manually_approves_followers="true")
    found = settings.load(engine, config)
    assert found.get("site", "title") == "Mine" and found.is_saved("site", "title")
    assert found.get("federation", "manually_approves_followers") is True
    assert found.get("site", "description") == config.get("site", "description")
    assert not found.is_saved("site", "description")
    assert found.get("site", "page_size") == 5 and found.base_url == config.base_url  # not editable: config's


def test_a_stored_value_that_fails_its_check_is_skipped_with_a_warning(engine, config, caplog):
    store(engine, site__timezone='"Atlantis/Capital"', site__title='""', site__page_size="7",
          site__description="not json")
    with caplog.at_level(logging.WARNING, logger="linkblog.settings"):
        found = settings.load(engine, config)
    assert found.get("site", "timezone") == "UTC" and found.get("site", "title") == "My links"
    assert found.get("site", "page_size") == 5 and found.get("site", "description") == config.get("site", "description")
    assert len(caplog.records) == 4
    assert "site.timezone" in caplog.text and "cannot be set from the settings page" in caplog.text
