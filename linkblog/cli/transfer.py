"""Bookmarks and whole instances in and out: ``import`` (bookmark files, or ``--backup`` to restore) and
``export`` (bookmark files, or ``--backup`` for everything)."""
from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import click

from ..db import make_engine
from ..transfer.formats.registry import PARSERS, parser_for
from .context import Context, config_option, pass_ctx

IMPORT_LOG_EVERY = 5_000
FLAG_NAMES = {"fmt": "format", "all_private": "private"}  # parameter name -> its --flag, where they differ


def _refuse_with_backup(ctx: click.Context, *names: str) -> None:
    """``--backup`` files have one format of their own: options for bookmark files make no sense with them."""
    given = [n for n in names if ctx.get_parameter_source(n) is not click.core.ParameterSource.DEFAULT]
    if given:
        flags = ", ".join(f"--{FLAG_NAMES.get(n, n.replace('_', '-'))}" for n in given)
        raise click.UsageError(f"{flags} cannot be combined with --backup (those options are for bookmark files; "
                               "a backup has one format and restores everything as it was)")


@click.command("import")
@config_option
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

    from ..transfer.formats.detect import detect_format
    from ..transfer.formats.entries import ParseError
    from ..transfer.importer import parse_announce_since, store
    from ..transfer.reader_process import ReaderFailed, prepared_from_file

    config = ctx.config()
    since = None
    if announce_since is not None:
        from ..settings import load as load_settings

        zone_engine = make_engine(config.database_url)
        try:
            zone = load_settings(zone_engine, config).get("site", "timezone")  # the settings page's zone wins
            since = parse_announce_since(announce_since, zone)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--announce-since") from None
        finally:
            zone_engine.dispose()
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
        from ..links.copies import wanted
        from ..settings import load as load_settings

        copy_pages = wanted(load_settings(engine, config), imported=True)
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
                               config=config if since else None, copy_pages=copy_pages)
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
    from ..transfer.backup import BackupError, restore_backup

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
    from ..files import write_atomically

    if file == "-":
        write(sys.stdout)
        sys.stdout.flush()
        return
    try:
        write_atomically(Path(file).resolve(), write)
    except OSError as exc:
        raise click.ClickException(f"cannot write {file}: {exc.strerror or exc}") from None


@click.command("export")
@config_option
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
    from ..transfer.exporter import export_bookmarks

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
    from ..transfer.backup import BackupError, write_backup

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


COMMANDS = (import_, export)
