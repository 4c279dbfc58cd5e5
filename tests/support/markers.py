"""Marking every test of a folder from that folder's conftest, so a new test there cannot miss its marker."""
from __future__ import annotations

from pathlib import Path

import pytest


def mark_folder(items: list[pytest.Item], folder: Path, marker: pytest.MarkDecorator) -> None:
    """Give ``marker`` to every collected test that lives under ``folder``."""
    for item in items:
        if folder in item.path.parents:
            item.add_marker(marker)
