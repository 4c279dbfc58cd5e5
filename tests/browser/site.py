"""A live linkblog site as the browser tests see it (the ``live_site`` fixture makes one), and logging in."""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path


@dataclass
class LiveSite:
    base_url: str
    directory: Path
    username: str
    password: str

    @property
    def database(self) -> Path:
        return self.directory / "linkblog.db"

    def url(self, path: str) -> str:
        return self.base_url + path

    def rows(self, sql: str, *params: object) -> list[sqlite3.Row]:
        """Read the instance's SQLite file directly: what the server really stored."""
        with sqlite3.connect(self.database) as conn:
            conn.row_factory = sqlite3.Row
            return conn.execute(sql, params).fetchall()


def log_in(page, site: LiveSite) -> None:  # noqa: ANN001
    """Fill and send the login form that ``page`` shows."""
    page.fill("#username", site.username)
    page.fill("#password", site.password)
    with page.expect_navigation():
        page.click("main form button[type=submit]")
