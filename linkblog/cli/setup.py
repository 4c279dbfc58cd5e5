"""Setting an instance up and keeping it so: ``init``, ``db upgrade``, ``passwd``, ``example-config``."""
from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

import click
from sqlalchemy import insert, select

from ..account import (USERNAME_RULE, AccountError, check_password, lift_login_limits, set_owner_password,
                       valid_username)
from ..config import ConfigError, example_toml, load_config
from ..db import make_engine, utcnow
from ..models import Owner
from ..passwords import generate_password, hash_password
from ..queries.owner import OWNER_ID
from .context import DEFAULT_DIR, Context, config_option, pass_ctx


@click.command()
@config_option
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_DIR,
              show_default=True, help="Folder for config.toml and the SQLite database.")
@click.option("--base-url", default="http://127.0.0.1:8000", show_default=True,
              help="Public address of the site, e.g. https://links.example.org.")
@click.option("--username", default="owner", show_default=True, help="The owner's user name (@name@host).")
@pass_ctx
def init(ctx: Context, directory: Path, base_url: str, username: str) -> None:
    """Create config, database, key pair and owner; print the owner's password once."""
    from ..federation.keys import generate_key_pair
    from ..migrate import upgrade

    if not valid_username(username):
        raise click.ClickException(f"--username must be {USERNAME_RULE}")
    config_file = Path(ctx.config_path) if ctx.config_path else directory / "config.toml"
    if config_file.exists():
        raise click.ClickException(f"{config_file} already exists; this instance is set up. Start it with "
                                   f"`linkblog --config {config_file} serve`, or choose another --dir.")
    config_file.parent.mkdir(parents=True, exist_ok=True)
    body = (f'[site]\nbase_url = "{base_url}"\n\n[security]\nsecret_key = "{secrets.token_urlsafe(48)}"\n'
            "\n# Every other option, with its default, is documented in config.example.toml.\n")
    try:
        config = load_config(None, overrides=_parse_toml(body) | _database_default(config_file))
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    engine = make_engine(config.database_url)
    click.echo(f"Creating the database at {config.database_url} ...")
    upgrade(engine)
    with engine.begin() as conn:
        if conn.execute(select(Owner.id)).first() is not None:
            raise click.ClickException("the database already has an owner; use `linkblog passwd` to reset "
                                       "the password")
        click.echo("Generating the RSA key pair ...")
        private_pem, public_pem = generate_key_pair()
        password = generate_password()
        conn.execute(insert(Owner).values(id=OWNER_ID, username=username, display_name=username, summary="",
                                          password_hash=hash_password(password), session_epoch=1,
                                          private_key_pem=private_pem, public_key_pem=public_pem,
                                          created_at=utcnow()))
    fd = os.open(config_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(body)
    click.echo(f"Wrote {config_file} (keep it private: it holds the secret key).")
    click.echo("")
    click.echo(f"Owner login: {username}")
    click.echo(f"Password:    {password}")
    click.echo("(shown only now; change it after logging in, or reset it with `linkblog passwd`)")
    click.echo("")
    click.echo(f"Start the server with: linkblog --config {config_file} serve")


def _parse_toml(text: str) -> dict[tuple[str, str], Any]:
    import tomllib

    return {(s, k): v for s, table in tomllib.loads(text).items() for k, v in table.items()}


def _database_default(config_file: Path) -> dict[tuple[str, str], Any]:
    if os.environ.get("LINKBLOG_DATABASE_URL"):
        return {}
    return {("database", "url"): f"sqlite:///{(config_file.parent / 'linkblog.db').resolve()}"}


@click.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
@config_option
@pass_ctx
def db_upgrade(ctx: Context) -> None:
    """Apply Alembic migrations up to the newest schema."""
    from ..migrate import current_revision, upgrade

    engine = make_engine(ctx.config().database_url)
    before = current_revision(engine)
    upgrade(engine)
    after = current_revision(engine)
    click.echo(f"database schema: {before or 'empty'} -> {after}" if before != after
               else f"database schema already current ({after})")


@click.command()
@config_option
@click.option("--generate", is_flag=True, help="Generate a new password and print it instead of asking.")
@pass_ctx
def passwd(ctx: Context, generate: bool) -> None:
    """Set the owner's password (logs out every session)."""
    engine = make_engine(ctx.config().database_url)
    try:
        if generate:
            password = generate_password()
        else:
            password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
            check_password(password)  # before touching the database, as the prompt's answer
        with engine.begin() as conn:
            set_owner_password(conn, password)
            lifted = lift_login_limits(conn)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"New password: {password}" if generate else "Password changed; other sessions are logged out.")
    if lifted:
        click.echo(f"Forgot {lifted} failed login(s): logging in is no longer paused.")


@click.command("example-config")
def example_config() -> None:
    """Print config.example.toml (every option with its default)."""
    click.echo(example_toml(), nl=False)


COMMANDS = (init, db, passwd, example_config)
