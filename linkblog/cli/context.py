"""What every ``linkblog`` command shares: where the config file is, and the ``--config`` option that may
stand before or after the command name."""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

from ..config import Config, ConfigError, load_config

DEFAULT_DIR = Path("instance")
CONFIG_HELP = "Config file (default: $LINKBLOG_CONFIG, else ./instance/config.toml)."

F = TypeVar("F", bound=Callable[..., object])


class Context:
    """The ``--config`` choice, read lazily: ``init`` and ``example-config`` run before there is a config."""

    def __init__(self, config_path: str | None):
        self.config_path = config_path

    def config(self) -> Config:
        path = self.config_path or os.environ.get("LINKBLOG_CONFIG") or None
        if path is None and (DEFAULT_DIR / "config.toml").exists():
            path = str(DEFAULT_DIR / "config.toml")
        if path is None:
            raise click.ClickException("no configuration: run `linkblog init` first, or pass --config FILE "
                                       "(or set LINKBLOG_CONFIG)")
        try:
            return load_config(path)
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None


pass_ctx = click.make_pass_decorator(Context)


def config_option(f: F) -> F:
    """Let ``--config`` also follow the subcommand (``linkblog serve --config FILE``)."""
    def callback(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
        if value:
            ctx.find_object(Context).config_path = value

    return click.option("--config", "config_path", metavar="FILE", expose_value=False, callback=callback,
                        is_eager=True, help=CONFIG_HELP)(f)
