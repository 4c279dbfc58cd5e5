"""The account in the fediverse: ``follow``, ``unfollow``, ``alias add|remove|list``, ``move`` and ``prune``."""
from __future__ import annotations

import click

from ..db import make_engine
from .context import Context, config_option, pass_ctx


def _relationship(ctx: Context, account: str, unfollow: bool) -> None:
    from ..federation.following import FollowError, follow as follow_account, unfollow as unfollow_account

    config = ctx.config()
    engine = make_engine(config.database_url)
    try:
        if unfollow:
            result = unfollow_account(engine, config, account)
        else:
            from ..federation.fetcher import fetch_client

            result = follow_account(engine, config, account, fetch_client(config))
    except FollowError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        engine.dispose()
    click.echo(result.message)


@click.command()
@config_option
@click.argument("account", metavar="HANDLE_OR_URL")
@pass_ctx
def follow(ctx: Context, account: str) -> None:
    """Follow a fediverse account (@user@host or its address); the worker sends the request."""
    _relationship(ctx, account, unfollow=False)


@click.command()
@config_option
@click.argument("account", metavar="HANDLE_OR_URL")
@pass_ctx
def unfollow(ctx: Context, account: str) -> None:
    """Stop following an account (or withdraw a pending request); the worker tells their server."""
    _relationship(ctx, account, unfollow=True)


@click.group()
def alias() -> None:
    """Other accounts that are also you (alsoKnownAs), so they can move their followers here."""


def _aliases_call(ctx: Context, action: str, account: str) -> str:
    from ..federation import moving

    config = ctx.config()
    engine = make_engine(config.database_url)
    try:
        if action == "add":
            from ..federation.fetcher import fetch_client

            return moving.add_alias(engine, config, account, fetch_client(config))
        return moving.remove_alias(engine, config, account)
    except moving.FollowError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        engine.dispose()


@alias.command("add")
@config_option
@click.argument("account", metavar="HANDLE_OR_URL")
@pass_ctx
def alias_add(ctx: Context, account: str) -> None:
    """Add an alias (@user@host or its actor address), looked up on its server; followers are told."""
    click.echo(_aliases_call(ctx, "add", account))


@alias.command("remove")
@config_option
@click.argument("account", metavar="HANDLE_OR_URL")
@pass_ctx
def alias_remove(ctx: Context, account: str) -> None:
    """Remove an alias; a Move from that account is no longer honoured by followers' servers."""
    click.echo(_aliases_call(ctx, "remove", account))


@alias.command("list")
@config_option
@pass_ctx
def alias_list(ctx: Context) -> None:
    """List the aliases (actor ids, with handles where known)."""
    from ..federation import moving

    engine = make_engine(ctx.config().database_url)
    try:
        with engine.connect() as conn:
            found = moving.aliases(conn)
            went = moving.moved(conn)
    except moving.FollowError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        engine.dispose()
    if not found:
        click.echo("no aliases")
    for item in found:
        click.echo(f"{item.uri}\t@{item.handle}" if item.handle else item.uri)
    if went is not None:
        click.echo(f"(this account has moved to {went.uri})")


@click.command("move")
@config_option
@click.argument("account", metavar="HANDLE_OR_URL")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (for scripts).")
@pass_ctx
def move_account(ctx: Context, account: str, yes: bool) -> None:
    """Move this account to ACCOUNT, which must list this one as an alias: followers are sent a Move and
    asked to follow ACCOUNT. Their servers cannot be told to move back."""
    from ..federation import moving
    from ..federation.fetcher import fetch_client

    config = ctx.config()
    engine = make_engine(config.database_url)
    try:
        found = moving.check_target(engine, config, account, fetch_client(config))
        if not yes:
            click.confirm(f"Move this account to {found.shown} ({found.fields['uri']})? Followers' servers will "
                          "follow the new account instead, and that cannot be undone on their side.", abort=True)
        click.echo(moving.move(engine, config, found))
    except moving.FollowError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        engine.dispose()


@click.command()
@config_option
@pass_ctx
def prune(ctx: Context) -> None:
    """Prune now what the worker prunes every hour: old inbound activities (bodies, then ids), finished
    deliveries and spent rate-limit windows, after the retentions in [federation]."""
    from ..federation import retention

    config = ctx.config()
    engine = make_engine(config.database_url)
    try:
        while True:   # the whole backlog, a batch per transaction
            result = retention.prune(engine, config)
            click.echo(f"emptied {result.bodies} inbox bodies, deleted {result.activities} inbox ids, "
                       f"{result.deliveries} finished deliveries and {result.rate_windows} rate windows")
            if not result.more:
                break
    finally:
        engine.dispose()


COMMANDS = (follow, unfollow, alias, move_account, prune)
