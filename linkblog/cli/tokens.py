"""``token create|revoke|list``: the owner's API bearer tokens, for scripts and phone shortcuts."""
from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import click
from sqlalchemy import Connection, select

from ..db import make_engine
from ..models import ApiToken, Owner
from ..tokens import TokenError, create_token, revoke_token
from .context import Context, config_option, pass_ctx

T = TypeVar("T")


@click.group()
def token() -> None:
    """API bearer tokens for scripts and phone shortcuts."""


def _change(ctx: Context, action: Callable[[Connection], T]) -> T:
    """Run ACTION in one transaction on the configured database; a refused change is the command's error."""
    engine = make_engine(ctx.config().database_url)
    try:
        with engine.begin() as conn:
            return action(conn)
    except TokenError as exc:
        raise click.ClickException(str(exc)) from None


@token.command("create")
@config_option
@click.argument("name")
@click.option("--pinboard", is_flag=True,
              help="For Pinboard apps: also accepted as ?auth_token=USER:TOKEN on /v1/ (only there).")
@pass_ctx
def token_create(ctx: Context, name: str, pinboard: bool) -> None:
    """Create a token called NAME and print it once."""
    secret = _change(ctx, lambda conn: create_token(conn, name, pinboard=pinboard))
    if pinboard:
        username = _username(ctx)
        click.echo(f"Pinboard token {name!r} (shown only now). In a Pinboard app, set the server to "
                   f"{ctx.config().base_url}/v1/ and the API token to:")
        click.echo(f"{username}:{secret}")
        return
    click.echo(f"Token {name!r} (shown only now; send it as 'Authorization: Bearer <token>', or paste it into "
               "a linkding app as its API token):")
    click.echo(secret)


def _username(ctx: Context) -> str:
    from ..queries.owner import owner_row

    engine = make_engine(ctx.config().database_url)
    with engine.connect() as conn:
        row = owner_row(conn, Owner.username)
    return row.username if row is not None else "owner"


@token.command("revoke")
@config_option
@click.argument("name")
@pass_ctx
def token_revoke(ctx: Context, name: str) -> None:
    """Revoke the token called NAME; scripts using it get 401 from now on."""
    _change(ctx, lambda conn: revoke_token(conn, name))
    click.echo(f"Token {name!r} revoked.")


@token.command("list")
@config_option
@pass_ctx
def token_list(ctx: Context) -> None:
    """List tokens (never their secrets)."""
    engine = make_engine(ctx.config().database_url)
    with engine.connect() as conn:
        rows = conn.execute(select(ApiToken.name, ApiToken.created_at, ApiToken.last_used_at,
                                   ApiToken.revoked_at, ApiToken.query_string_allowed)
                            .order_by(ApiToken.created_at)).all()
    if not rows:
        click.echo("no tokens")
    for name, created, used, revoked, pinboard in rows:
        state = f"revoked {revoked:%Y-%m-%d}" if revoked else (f"last used {used:%Y-%m-%d}" if used else "never used")
        click.echo(f"{name}\tcreated {created:%Y-%m-%d}\t{state}" + ("\tpinboard" if pinboard else ""))


COMMANDS = (token,)
