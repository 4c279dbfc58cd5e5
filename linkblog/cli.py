"""The ``linkblog`` command: init, serve, worker, db upgrade, passwd, token, follow, alias, move, import, export."""
from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import click
from sqlalchemy import insert, select, update

from .config import Config, ConfigError, example_toml, load_config
from .db import make_engine, utcnow
from .models import ApiToken, Owner
from .passwords import generate_password, hash_password
from .transfer.formats.registry import PARSERS, parser_for

DEFAULT_DIR = Path("instance")
IMPORT_LOG_EVERY = 5_000


class Context:
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


@click.group()
@click.option("--config", "config_path", metavar="FILE", envvar="LINKBLOG_CONFIG",
              help="Config file (default: $LINKBLOG_CONFIG, else ./instance/config.toml).")
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """linkblog: a single-user, federated link blog."""
    ctx.obj = Context(config_path)


def _config_option(f):  # noqa: ANN001, ANN202
    """Let ``--config`` also follow the subcommand (``linkblog serve --config FILE``)."""
    def callback(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
        if value:
            ctx.find_object(Context).config_path = value

    return click.option("--config", "config_path", metavar="FILE", expose_value=False, callback=callback,
                        is_eager=True, help="Config file (default: $LINKBLOG_CONFIG, else ./instance/config.toml).")(f)


@main.command()
@_config_option
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_DIR,
              show_default=True, help="Folder for config.toml and the SQLite database.")
@click.option("--base-url", default="http://127.0.0.1:8000", show_default=True,
              help="Public address of the site, e.g. https://links.example.org.")
@click.option("--username", default="owner", show_default=True, help="The owner's user name (@name@host).")
@pass_ctx
def init(ctx: Context, directory: Path, base_url: str, username: str) -> None:
    """Create config, database, key pair and owner; print the owner's password once."""
    import re

    from .federation.keys import generate_key_pair
    from .migrate import upgrade

    if not re.fullmatch(r"[a-z0-9_]{1,30}", username):
        raise click.ClickException("--username must be 1 to 30 lower-case letters, digits or underscores")
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
        conn.execute(insert(Owner).values(id=1, username=username, display_name=username, summary="",
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


@main.command()
@_config_option
@click.option("--host", default=None, help="Listen address (default from [server] host, 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default from [server] port, 8000).")
@click.option("--workers", type=int, default=2, show_default=True, help="Web worker processes.")
@click.option("--no-worker", is_flag=True, help="Do not start the federation worker beside the web server "
                                                 "(run `linkblog worker` separately).")
@pass_ctx
def serve(ctx: Context, host: str | None, port: int | None, workers: int, no_worker: bool) -> None:
    """Run the web server (gunicorn) and the federation worker on the configured address."""
    config = ctx.config()
    _require_current_schema(config)
    host = host or config.get("server", "host")
    port = port or config.get("server", "port")
    from gunicorn.app.base import BaseApplication

    from . import create_app

    class Server(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", f"[{host}]:{port}" if ":" in host else f"{host}:{port}")
            self.cfg.set("workers", workers)
            # Threads, so an inbox POST that is fetching a peer's key never blocks that peer fetching ours.
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("threads", 4)
            self.cfg.set("accesslog", "-")
            self.cfg.set("proc_name", "linkblog")
            self.cfg.set("control_socket_disable", True)  # several instances on one machine must not share it

        def load(self):  # noqa: ANN202
            return create_app(config)

    click.echo(f"linkblog serving {config.base_url} on http://{host}:{port}/ (Ctrl+C stops)")
    background = None if no_worker else _start_worker(config)
    master = os.getpid()
    try:
        Server().run()
    finally:
        if background is not None and os.getpid() == master:  # gunicorn's forked web workers unwind here too
            background.terminate()
            try:
                background.wait(timeout=10)
            except subprocess.TimeoutExpired:
                background.kill()


def _start_worker(config: Config) -> "subprocess.Popen":
    """`linkblog worker` as a child process, so deliveries never wait on web requests (and a web worker that
    exits or is recycled cannot take it down: it is a plain process, not a multiprocessing child)."""
    command = [sys.executable, "-m", "linkblog.cli"]
    if config.path is not None:
        command += ["--config", str(config.path)]
    return subprocess.Popen(command + ["worker"])


def _require_current_schema(config: Config) -> None:
    from .migrate import current_revision, head_revision

    current = current_revision(make_engine(config.database_url))
    if current != head_revision():
        raise click.ClickException(f"the database schema is at {current or 'nothing'}, this version needs "
                                   f"{head_revision()}: run `linkblog db upgrade` first")


@main.command()
@_config_option
@pass_ctx
def worker(ctx: Context) -> None:
    """Deliver queued activities and process received ones, until stopped (SIGTERM/Ctrl+C)."""
    config = ctx.config()
    _require_current_schema(config)
    from .federation import worker as federation_worker

    federation_worker.main(config)


@main.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
@_config_option
@pass_ctx
def db_upgrade(ctx: Context) -> None:
    """Apply Alembic migrations up to the newest schema."""
    from .migrate import current_revision, upgrade

    engine = make_engine(ctx.config().database_url)
    before = current_revision(engine)
    upgrade(engine)
    after = current_revision(engine)
    click.echo(f"database schema: {before or 'empty'} -> {after}" if before != after
               else f"database schema already current ({after})")


@main.command()
@_config_option
@click.option("--generate", is_flag=True, help="Generate a new password and print it instead of asking.")
@pass_ctx
def passwd(ctx: Context, generate: bool) -> None:
    """Set the owner's password (logs out every session)."""
    engine = make_engine(ctx.config().database_url)
    if generate:
        password = generate_password()
    else:
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
        if len(password) < 10:
            raise click.ClickException("the password must have at least 10 characters")
    with engine.begin() as conn:
        epoch = conn.execute(select(Owner.session_epoch).where(Owner.id == 1)).scalar()
        if epoch is None:
            raise click.ClickException("no owner in this database; run `linkblog init`")
        conn.execute(update(Owner).where(Owner.id == 1).values(password_hash=hash_password(password),
                                                                session_epoch=epoch + 1))
    click.echo(f"New password: {password}" if generate else "Password changed; other sessions are logged out.")


@main.group()
def token() -> None:
    """API bearer tokens for scripts and phone shortcuts."""


@token.command("create")
@_config_option
@click.argument("name")
@pass_ctx
def token_create(ctx: Context, name: str) -> None:
    """Create a token called NAME and print it once."""
    from .tokens import TokenError, create_token

    engine = make_engine(ctx.config().database_url)
    try:
        with engine.begin() as conn:
            secret = create_token(conn, name)
    except TokenError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Token {name!r} (shown only now; send it as 'Authorization: Bearer <token>'):")
    click.echo(secret)


@token.command("revoke")
@_config_option
@click.argument("name")
@pass_ctx
def token_revoke(ctx: Context, name: str) -> None:
    """Revoke the token called NAME; scripts using it get 401 from now on."""
    from .tokens import TokenError, revoke_token

    engine = make_engine(ctx.config().database_url)
    try:
        with engine.begin() as conn:
            revoke_token(conn, name)
    except TokenError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Token {name!r} revoked.")


@token.command("list")
@_config_option
@pass_ctx
def token_list(ctx: Context) -> None:
    """List tokens (never their secrets)."""
    engine = make_engine(ctx.config().database_url)
    with engine.connect() as conn:
        rows = conn.execute(select(ApiToken.name, ApiToken.created_at, ApiToken.last_used_at,
                                   ApiToken.revoked_at).order_by(ApiToken.created_at)).all()
    if not rows:
        click.echo("no tokens")
    for name, created, used, revoked in rows:
        state = f"revoked {revoked:%Y-%m-%d}" if revoked else (f"last used {used:%Y-%m-%d}" if used else "never used")
        click.echo(f"{name}\tcreated {created:%Y-%m-%d}\t{state}")


def _relationship(ctx: Context, account: str, unfollow: bool) -> None:
    from .federation.following import FollowError, follow as follow_account, unfollow as unfollow_account

    config = ctx.config()
    engine = make_engine(config.database_url)
    try:
        if unfollow:
            result = unfollow_account(engine, config, account)
        else:
            from .federation.fetcher import fetch_client

            result = follow_account(engine, config, account, fetch_client(config))
    except FollowError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        engine.dispose()
    click.echo(result.message)


@main.command()
@_config_option
@click.argument("account", metavar="HANDLE_OR_URL")
@pass_ctx
def follow(ctx: Context, account: str) -> None:
    """Follow a fediverse account (@user@host or its address); the worker sends the request."""
    _relationship(ctx, account, unfollow=False)


@main.command()
@_config_option
@click.argument("account", metavar="HANDLE_OR_URL")
@pass_ctx
def unfollow(ctx: Context, account: str) -> None:
    """Stop following an account (or withdraw a pending request); the worker tells their server."""
    _relationship(ctx, account, unfollow=True)


@main.group()
def alias() -> None:
    """Other accounts that are also you (alsoKnownAs), so they can move their followers here."""


def _aliases_call(ctx: Context, action: str, account: str) -> str:
    from .federation import moving

    config = ctx.config()
    engine = make_engine(config.database_url)
    try:
        if action == "add":
            from .federation.fetcher import fetch_client

            return moving.add_alias(engine, config, account, fetch_client(config))
        return moving.remove_alias(engine, config, account)
    except moving.FollowError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        engine.dispose()


@alias.command("add")
@_config_option
@click.argument("account", metavar="HANDLE_OR_URL")
@pass_ctx
def alias_add(ctx: Context, account: str) -> None:
    """Add an alias (@user@host or its actor address), looked up on its server; followers are told."""
    click.echo(_aliases_call(ctx, "add", account))


@alias.command("remove")
@_config_option
@click.argument("account", metavar="HANDLE_OR_URL")
@pass_ctx
def alias_remove(ctx: Context, account: str) -> None:
    """Remove an alias; a Move from that account is no longer honoured by followers' servers."""
    click.echo(_aliases_call(ctx, "remove", account))


@alias.command("list")
@_config_option
@pass_ctx
def alias_list(ctx: Context) -> None:
    """List the aliases (actor ids, with handles where known)."""
    from .federation import moving

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


@main.command("move")
@_config_option
@click.argument("account", metavar="HANDLE_OR_URL")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (for scripts).")
@pass_ctx
def move_account(ctx: Context, account: str, yes: bool) -> None:
    """Move this account to ACCOUNT, which must list this one as an alias: followers are sent a Move and
    asked to follow ACCOUNT. Their servers cannot be told to move back."""
    from .federation import moving
    from .federation.fetcher import fetch_client

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


FLAG_NAMES = {"fmt": "format", "all_private": "private"}  # parameter name -> its --flag, where they differ


def _refuse_with_backup(ctx: click.Context, *names: str) -> None:
    """``--backup`` files have one format of their own: options for bookmark files make no sense with them."""
    given = [n for n in names if ctx.get_parameter_source(n) is not click.core.ParameterSource.DEFAULT]
    if given:
        flags = ", ".join(f"--{FLAG_NAMES.get(n, n.replace('_', '-'))}" for n in given)
        raise click.UsageError(f"{flags} cannot be combined with --backup (those options are for bookmark files; "
                               "a backup has one format and restores everything as it was)")


@main.command("import")
@_config_option
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", default=None, type=click.Choice(list(PARSERS)),
              help="The file's format (guessed from the file).")
@click.option("--duplicates", default="skip", show_default=True, type=click.Choice(["skip", "merge"]),
              help="For a URL already saved: leave it alone (skip) or add the tags and fill a missing "
                   "title/annotation (merge).")
@click.option("--announce-since", "announce_since", metavar="DATE", default=None,
              help="Send followers the imported bookmarks saved on or after DATE (YYYY-MM-DD in the site's "
                   "time zone, or an ISO date and time). Without it nothing imported is federated.")
@click.option("--folders-as-tags/--no-folders-as-tags", "folders_as_tags", default=True, show_default=True,
              help="Turn the names of the folders (collections) a bookmark is in into tags.")
@click.option("--private", "all_private", is_flag=True,
              help="Import every bookmark as private, whatever the file says.")
@click.option("--backup", is_flag=True, help="FILE is a full backup (`linkblog export --backup`): restore "
                                             "everything into this new, empty instance.")
@pass_ctx
@click.pass_context
def import_(click_ctx: click.Context, ctx: Context, file: str, fmt: str | None, duplicates: str,
            announce_since: str | None, folders_as_tags: bool, all_private: bool, backup: bool) -> None:
    """Import bookmarks from a Netscape HTML, Pinboard JSON, Chrome or Firefox JSON, or Pocket, Raindrop.io or
    Instapaper CSV file, all or nothing (not federated unless --announce-since); or, with --backup, restore a
    full backup into this new instance."""
    if backup:
        _refuse_with_backup(click_ctx, "fmt", "duplicates", "announce_since", "folders_as_tags", "all_private")
        _restore(ctx, file)
        return
    from contextlib import closing

    from .transfer.formats.detect import detect_format
    from .transfer.formats.entries import ParseError
    from .transfer.importer import parse_announce_since, store
    from .transfer.reader_process import ReaderFailed, prepared_from_file

    config = ctx.config()
    since = None
    if announce_since is not None:
        try:
            since = parse_announce_since(announce_since, config.get("site", "timezone"))
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--announce-since") from None
    path = Path(file)
    try:
        with path.open("rb") as handle:
            head = handle.read(4096)
        size = path.stat().st_size
    except OSError as exc:
        raise click.ClickException(f"cannot read {file}: {exc.strerror or exc}") from None
    try:
        fmt = fmt or detect_format(head)
    except ParseError as exc:
        raise click.ClickException(f"{file}: {exc}; nothing was imported") from None
    parse = parser_for(fmt, folders_as_tags=folders_as_tags)

    engine = make_engine(config.database_url)
    try:
        with click.progressbar(length=max(size, 1), label=f"Importing {path.name}", file=sys.stderr,
                               item_show_func=lambda n: f"{n:,} entries" if n else None) as bar:
            entries = [0]
            logged = not sys.stderr.isatty()  # no bar to redraw in a log: a line every IMPORT_LOG_EVERY entries

            def read(position: int) -> None:
                bar.update(max(position - bar.pos, 0), entries[0])

            def progress(count: int) -> None:
                if logged and count // IMPORT_LOG_EVERY > entries[0] // IMPORT_LOG_EVERY:
                    click.echo(f"… {count:,} entries stored (not yet committed)", err=True)
                entries[0] = count

            # closing() stops the reader process whatever happens here
            with closing(prepared_from_file(path, parse, read, all_private=all_private)) as prepared:
                result = store(engine, prepared, duplicates=duplicates, progress=progress, announce_since=since,
                               config=config if since else None)
            bar.update(max(size - bar.pos, 0), entries[0])
    except (ParseError, ReaderFailed) as exc:
        raise click.ClickException(f"{file}: {exc}; nothing was imported") from None
    finally:
        engine.dispose()
    click.echo(f"Imported from {file} ({fmt}): {result.added} added, {result.merged} merged, "
               f"{result.skipped} skipped, {len(result.invalid)} invalid.")
    if since is not None:
        click.echo(f"Announced to followers: {result.announced} (saved on or after {since.isoformat()}).")
    for label, entries in (("invalid", result.invalid), ("note", result.warnings)):
        for position, reason in entries[:10]:
            click.echo(f"  {label}: {position}: {reason}")
        if len(entries) > 10:
            click.echo(f"  … and {len(entries) - 10} more ({label})")


def _table_progress(table: str, count: int) -> None:
    if count and count % 10_000 == 0:
        click.echo(f"… {table}: {count:,} rows", err=True)


def _restore(ctx: Context, file: str) -> None:
    from .transfer.backup import BackupError, restore_backup

    config = ctx.config()
    engine = make_engine(config.database_url)
    try:
        with Path(file).open(encoding="utf-8", newline="") as stream:
            result = restore_backup(engine, config, stream, progress=_table_progress)
    except OSError as exc:
        raise click.ClickException(f"cannot read {file}: {exc.strerror or exc}") from None
    except BackupError as exc:
        raise click.ClickException(f"{file}: {exc}") from None
    finally:
        engine.dispose()
    click.echo(f"Restored from {file}: " + ", ".join(f"{n:,} {t}" for t, n in result.counts.items()) + ".")
    click.echo("The owner's key pair was restored: followers keep following." if result.keys_restored
               else "The owner's key pair was not in the backup.")
    for warning in result.warnings:
        click.echo(f"Warning: {warning}", err=True)
    if result.settings_file is not None:
        click.echo(f"Settings written to {result.settings_file} (its [database], secret key and [server] kept); "
                   f"the site's address is {result.base_url}.")


def _write_output(file: str, write: Callable[[TextIO], None]) -> None:
    """Write to standard output ('-'), or to FILE atomically (a temporary file renamed into place), mode 0600."""
    from .files import write_atomically

    if file == "-":
        write(sys.stdout)
        sys.stdout.flush()
        return
    try:
        write_atomically(Path(file).resolve(), write)
    except OSError as exc:
        raise click.ClickException(f"cannot write {file}: {exc.strerror or exc}") from None


@main.command("export")
@_config_option
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--format", "fmt", default="netscape", show_default=True, type=click.Choice(["netscape", "pinboard"]))
@click.option("--backup", is_flag=True, help="Write a full backup instead (everything `import --backup` needs to "
                                             "rebuild this instance elsewhere, except the key pair).")
@click.option("--include-keys", is_flag=True, help="With --backup: include the owner's key pair (private key "
                                                   "too), so followers keep following after a restore.")
@pass_ctx
@click.pass_context
def export(click_ctx: click.Context, ctx: Context, file: str, fmt: str, backup: bool, include_keys: bool) -> None:
    """Export every bookmark, oldest first, to FILE ('-' for standard output); or, with --backup, everything."""
    if include_keys and not backup:
        raise click.UsageError("--include-keys only goes with --backup")
    if backup:
        _refuse_with_backup(click_ctx, "fmt")
        _backup(ctx, file, include_keys)
        return
    from .transfer.exporter import export_bookmarks

    engine = make_engine(ctx.config().database_url)
    counter = [0]

    def write(handle: TextIO) -> None:
        for chunk in export_bookmarks(engine, fmt, counter):
            handle.write(chunk)

    try:
        _write_output(file, write)
    finally:
        engine.dispose()
    click.echo(f"Exported {counter[0]} bookmarks ({fmt}){'' if file == '-' else f' to {file}'}.", err=file == "-")


def _backup(ctx: Context, file: str, include_keys: bool) -> None:
    from .transfer.backup import BackupError, write_backup

    config = ctx.config()
    engine = make_engine(config.database_url)
    counts: dict[str, int] = {}
    try:
        _write_output(file, lambda handle: counts.update(write_backup(engine, config, handle, include_keys,
                                                                      progress=_table_progress)))
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        engine.dispose()
    where = "" if file == "-" else f" to {file}"
    click.echo(f"Backed up{where}: " + ", ".join(f"{n:,} {t}" for t, n in counts.items()) + ".", err=file == "-")
    click.echo("The file holds the owner's private key and password hash: keep it private." if include_keys
               else "The key pair is left out (add --include-keys to keep followers across a move); the file "
                    "still holds the password hash: keep it private.", err=file == "-")


@main.command("example-config")
def example_config() -> None:
    """Print config.example.toml (every option with its default)."""
    click.echo(example_toml(), nl=False)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
