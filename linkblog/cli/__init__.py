"""The ``linkblog`` command: init, serve, worker, db upgrade, passwd, token, follow, alias, move, import, export,
links check.

This is the ``main`` group and the console script's entry point; each module beside it holds one group of
commands (setup, server, tokens, fediverse, transfer, links) and ``context`` what they share."""
from __future__ import annotations

import click

from . import fediverse, links, server, setup, tokens, transfer
from .context import CONFIG_HELP, Context

__all__ = ["main"]


@click.group()
@click.option("--config", "config_path", metavar="FILE", envvar="LINKBLOG_CONFIG", help=CONFIG_HELP)
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """linkblog: a single-user, federated link blog."""
    ctx.obj = Context(config_path)


for command in (*setup.COMMANDS, *server.COMMANDS, *tokens.COMMANDS, *fediverse.COMMANDS, *transfer.COMMANDS,
                *links.COMMANDS):
    main.add_command(command)
