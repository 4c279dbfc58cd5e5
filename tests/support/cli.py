"""The `linkblog` command in-process, through click's runner, as a user would type it."""
from __future__ import annotations

from click.testing import CliRunner, Result

from linkblog.cli import main


def run(*args: str, env: dict | None = None, input: str | None = None) -> Result:  # noqa: A002
    return CliRunner().invoke(main, list(args), env=env or {}, input=input, catch_exceptions=False)
