"""Full backup and restore: everything needed to rebuild the instance on another machine, in one JSON file.

The file is deterministic (no export time, rows by primary key, keys in column order, times as ISO 8601 UTC
with microseconds), so export -> restore -> export gives the same bytes, across SQLite and PostgreSQL. It is
written and read table by table, a row at a time, so memory stays flat however many bookmarks there are.

Ids are kept: ActivityPub ids are built from them, and the highest bookmark id ever handed out travels in
``sequences`` so a restored instance never gives a deleted (tombstoned) bookmark's id to a new one.

Left out on purpose: the delivery queue (``deliveries``, retried by the old machine or lost with it; a new
machine must not resend weeks-old activities), the inbox log (``inbox_activities``, only a de-duplication
window), ``login_failures`` and ``inbox_rates`` (rate-limit state), ``owner_sessions`` (logged-in browsers: a
restore logs everyone out), ``remote_hosts`` (delivery health, relearned quickly), ``worker_health`` (the
heartbeats of the old machine's workers) and ``copy_hosts`` (page-fetch politeness). Page copies (``page_copies``,
the compressed readable HTML as base64) are included: a copy of a page that has gone cannot be made again.
The settings saved from the settings page are the ``settings`` table (and the avatar the ``avatars`` table,
its bytes as base64); the config file's settings leave out what belongs to the machine: ``[database] url``,
``[security] secret_key`` and ``[server]``. The owner's key pair is included only when asked for (``include_keys``).
"""
from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import (Boolean, Connection, DateTime, Engine, Integer, LargeBinary, Table, func, select, text,
                        update)
from sqlalchemy.exc import DBAPIError

from ..account import USERNAME_RULE, valid_username
from ..config import OPTIONS, Config, ConfigError, read_toml_values, render_toml, write_config_file
from ..dates import rfc3339
from ..db import BATCH_SIZE, bulk_insert
from ..migrate import current_revision, head_revision, known_revisions
from ..models import (BOOKMARKS, OWNER_TABLE, ApiToken, Avatar, BlockedActor, Bookmark, BookmarkTag, Follower,
                      Following, Interaction, OutboxActivity, PageCopy, RemoteActor, RemotePost, Setting, Tag,
                      Tombstone, Weeknote)
from ..queries.owner import is_the_owner, owner_row
from .jsonstream import JsonReader, JsonStreamError

FORMAT = "linkblog-backup"
VERSION = 1
# In the order they are written and restored: every table after the ones its foreign keys point at.
TABLES: dict[str, Table] = {m.__tablename__: m.__table__ for m in (
    Tag, Bookmark, BookmarkTag, PageCopy, Weeknote, ApiToken, RemoteActor, Follower, Following, BlockedActor,
    Interaction, Tombstone, RemotePost, OutboxActivity, Setting, Avatar)}
OWNER_FIELDS = ("username", "display_name", "summary", "summary_html", "avatar_digest", "password_hash",
                "also_known_as", "moved_to", "moved_at", "created_at")
KEY_FIELDS = ("private_key_pem", "public_key_pem")

Progress = Callable[[str, int], None]


class BackupError(Exception):
    """The backup cannot be written or restored; the message says why and what to do."""


def machine_specific(section: str, key: str) -> bool:
    """Settings that belong to the machine (or are secret) rather than to the site: never backed up."""
    return section == "server" or (section, key) in {("database", "url"), ("security", "secret_key")}


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _iso(value: datetime) -> str:
    """Naive UTC as stored, always with microseconds, so both databases print the same text."""
    return rfc3339(value, timespec="microseconds")


def _plain(value: Any) -> Any:
    if isinstance(value, (bytes, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")  # binary columns (the avatar) travel as base64
    return _iso(value) if isinstance(value, datetime) else value


# --- writing ------------------------------------------------------------------------------------------------


def _require_current_schema(engine: Engine) -> str:
    current, head = current_revision(engine), head_revision()
    if current != head:
        raise BackupError(f"the database schema is at {current or 'nothing'}, this linkblog needs {head}: "
                          "run `linkblog db upgrade` first")
    return head


def bookmark_counter(conn: Connection) -> int:
    """The highest bookmark id ever handed out (deleted ones included), 0 if none."""
    if conn.dialect.name == "sqlite":
        counter = conn.execute(text("SELECT seq FROM sqlite_sequence WHERE name = 'bookmarks'")).scalar()
    else:
        counter = conn.execute(text("SELECT pg_sequence_last_value(pg_get_serial_sequence('bookmarks', 'id'))")
                               ).scalar()
    return max(counter or 0, conn.execute(select(func.coalesce(func.max(BOOKMARKS.c.id), 0))).scalar_one())


def _settings(config: Config) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for option in OPTIONS:
        if not machine_specific(option.section, option.key):
            found.setdefault(option.section, {})[option.key] = config.get(option.section, option.key)
    return found


def _owner(conn: Connection, include_keys: bool) -> dict[str, Any]:
    fields = OWNER_FIELDS + (KEY_FIELDS if include_keys else ())
    row = conn.execute(select(*(OWNER_TABLE.c[f] for f in fields)).where(is_the_owner())).mappings().first()
    if row is None:
        raise BackupError("this database has no owner: run `linkblog init` first")
    return {f: _plain(row[f]) for f in fields}


def _snapshot(conn: Connection) -> None:
    """Read every table from one snapshot, so a reply saved mid-backup cannot point at a missing actor."""
    if conn.dialect.name == "sqlite" and not conn.connection.driver_connection.in_transaction:
        conn.exec_driver_sql("BEGIN")  # pysqlite starts no transaction for reads; WAL keeps this one's view


def write_backup(engine: Engine, config: Config, out: TextIO, include_keys: bool,
                 progress: Progress | None = None) -> dict[str, int]:
    """Write the backup to ``out``; returns the rows written per table."""
    schema = _require_current_schema(engine)
    counts: dict[str, int] = {}
    options = {"isolation_level": "REPEATABLE READ"} if engine.dialect.name == "postgresql" else {}
    with engine.connect().execution_options(**options) as conn, conn.begin():
        _snapshot(conn)
        out.write(f'{{"format":"{FORMAT}","version":{VERSION},"schema":{_json(schema)},\n')
        out.write(f'"sequences":{_json({"bookmarks": bookmark_counter(conn)})},\n')
        out.write(f'"owner":{_json(_owner(conn, include_keys))},\n')
        out.write(f'"settings":{_json(_settings(config))},\n')
        out.write('"tables":{')
        for number, (name, table) in enumerate(TABLES.items()):
            out.write(f'{"," if number else ""}\n{_json(name)}:[')
            names = [c.name for c in table.columns]
            query = select(table).order_by(*table.primary_key.columns)
            count = 0
            for row in conn.execution_options(yield_per=BATCH_SIZE).execute(query):
                out.write(f'{"," if count else ""}\n{_json(dict(zip(names, map(_plain, row))))}')
                count += 1
                if progress and count % BATCH_SIZE == 0:
                    progress(name, count)
            out.write("\n]" if count else "]")
            counts[name] = count
            if progress and count % BATCH_SIZE:
                progress(name, count)
        out.write("\n}}\n")
    return counts


# --- reading ------------------------------------------------------------------------------------------------


@dataclass
class RestoreResult:
    counts: dict[str, int] = field(default_factory=dict)
    keys_restored: bool = False
    settings_file: Path | None = None
    base_url: str | None = None
    warnings: list[str] = field(default_factory=list)


def _time(value: Any, where: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise BackupError(f"{where} must be a time such as 2026-11-23T08:15:00.000000Z (got {value!r})") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


def _value(column: Any, value: Any, where: str) -> Any:
    """Check one value against its column, so a bad file fails with a sentence, not a database trace."""
    if value is None:
        if not column.nullable:
            raise BackupError(f"{where} must not be empty (null)")
        return None
    kind = column.type
    if isinstance(kind, DateTime):
        return _time(value, where)
    if isinstance(kind, LargeBinary):
        try:
            return base64.b64decode(value, validate=True)
        except (TypeError, ValueError):
            raise BackupError(f"{where} must be base64 text (got {str(value)[:40]!r})") from None
    if isinstance(kind, Boolean):
        ok = isinstance(value, bool)
    elif isinstance(kind, Integer):
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, str)
    if not ok:
        raise BackupError(f"{where} has the wrong type ({type(value).__name__}: {str(value)[:40]!r})")
    return value


def _row(table: Table, row: Any, where: str, names: tuple[str, ...] | None = None) -> dict[str, Any]:
    names = names or tuple(c.name for c in table.columns)
    if not isinstance(row, dict):
        raise BackupError(f"{where} must be a JSON object")
    unknown, missing = sorted(set(row) - set(names)), [n for n in names if n not in row]
    if unknown or missing:
        raise BackupError(f"{where}: " + "; ".join(
            ([f"unknown column(s) {', '.join(unknown)}"] if unknown else [])
            + ([f"missing column(s) {', '.join(missing)}"] if missing else [])))
    return {n: _value(table.c[n], row[n], f"{where} {n}") for n in names}


# What a non-empty instance is said to have, most telling first.
CONTENT_NAMES = {"bookmarks": "bookmarks", "weeknotes": "weeknotes", "followers": "followers",
                 "following": "accounts followed", "interactions": "replies/likes/boosts",
                 "outbox_activities": "sent activities", "tombstones": "deleted items", "tags": "tags",
                 "bookmark_tags": "tag links", "api_tokens": "API tokens", "remote_actors": "remote accounts",
                 "blocked_actors": "blocks", "remote_posts": "network posts"}


def _refuse_unless_empty(conn: Connection) -> None:
    if owner_row(conn, OWNER_TABLE.c.id) is None:
        raise BackupError("this database has no owner: run `linkblog init` first, then restore into it")
    found = []
    for name, label in CONTENT_NAMES.items():
        count = conn.execute(select(func.count()).select_from(TABLES[name])).scalar_one()
        if count:
            found.append(f"{count:,} {label}")
    if found:
        raise BackupError(f"this instance already has {', '.join(found)}; a backup is restored only into a new, "
                          "empty instance: run `linkblog init --dir NEWDIR` (an empty directory, or a new "
                          "database via LINKBLOG_DATABASE_URL), then `linkblog --config NEWDIR/config.toml import "
                          "--backup FILE` there")


def _header(reader: JsonReader, keys: Any) -> None:
    not_backup = BackupError(f'this is not a linkblog backup (it does not start with {{"format": "{FORMAT}"'
                             "); bookmark files from a browser or Pinboard import with `linkblog import FILE` "
                             "(without --backup)")
    try:
        if next(keys, None) != "format" or reader.value() != FORMAT:
            raise not_backup
    except JsonStreamError:
        raise not_backup from None
    if next(keys, None) != "version" or type(version := reader.value()) is not int:
        raise BackupError(f'the backup header has no "version" after "format" ({reader.where()})')
    if version > VERSION:
        raise BackupError(f"this backup was made by a newer linkblog (backup version {version}; this one reads "
                          f"version {VERSION}): upgrade linkblog, then restore")
    if next(keys, None) != "schema" or not isinstance(schema := reader.value(), str):
        raise BackupError(f'the backup header has no "schema" after "version" ({reader.where()})')
    head = head_revision()
    if schema not in known_revisions():
        raise BackupError(f"this backup was made by a newer linkblog (database schema {schema!r} is unknown "
                          f"here; this one has {head}): upgrade linkblog, then restore")
    if schema != head:
        raise BackupError(f"this backup has database schema {schema}, this linkblog restores {head}: restore it "
                          "with the linkblog release that made it, run `linkblog db upgrade`, and back up again")


class _Restore:
    """One restore, inside the caller's transaction."""

    def __init__(self, conn: Connection, config: Config, progress: Progress | None):
        self.conn, self.config, self.progress = conn, config, progress
        self.result = RestoreResult()
        self.sequences: dict[str, Any] = {}
        self.settings_text: str | None = None

    def owner(self, data: Any) -> None:
        keys = isinstance(data, dict) and any(k in data for k in KEY_FIELDS)
        values = _row(OWNER_TABLE, data, "owner", OWNER_FIELDS + (KEY_FIELDS if keys else ()))
        if not valid_username(values["username"]):
            raise BackupError(f"owner username must be {USERNAME_RULE} (got {values['username']!r})")
        epoch = self.conn.execute(select(OWNER_TABLE.c.session_epoch).where(is_the_owner())).scalar_one()
        self.conn.execute(update(OWNER_TABLE).where(is_the_owner()).values(**values, session_epoch=epoch + 1))
        self.result.keys_restored = keys
        if not keys:
            self.result.warnings.append(
                "the backup has no key pair (it was made without --include-keys), so this instance keeps its "
                "own new one: followers' servers refetch the actor's public key when a signature from the new "
                "key fails to verify; servers that cache keys longer may need time before they trust new posts")

    def settings(self, data: Any) -> None:
        """Validate the backed-up settings now; the file is written only after the database commits."""
        if not isinstance(data, dict) or not all(isinstance(t, dict) for t in data.values()):
            raise BackupError('"settings" must be an object of sections, e.g. {"site": {"title": "..."}}')
        known = {(o.section, o.key): o for o in OPTIONS}
        values: dict[tuple[str, str], Any] = {}
        for section, table in data.items():
            for key, value in table.items():
                option = known.get((section, key))
                if option is None or machine_specific(section, key):
                    raise BackupError(f"settings: [{section}] {key} is not a setting a backup restores")
                try:
                    parsed = option.parse(value)
                except ValueError as exc:
                    raise BackupError(f"settings: [{section}] {key} must be {exc} (got {value!r})") from None
                if parsed != option.default:
                    values[(section, key)] = parsed
        if self.config.path is None:
            self.result.warnings.append("no config file to write the backed-up settings into; they were skipped")
            return
        try:
            current = read_toml_values(self.config.path)
        except ConfigError as exc:
            raise BackupError(str(exc)) from None
        # The machine's own settings stay; so does a required one (base_url) that a hand-made file left out.
        own = {k: v for k, v in current.items()
               if machine_specific(*k) or (k not in values and known.get(k) and known[k].default is None)}
        self.result.base_url = values.get(("site", "base_url"), own.get(("site", "base_url")))
        self.settings_text = render_toml(
            {**own, **values}, "Restored from a linkblog backup; [database], [security] secret_key and [server]\n"
            "are this machine's own. Every other option, with its default, is in config.example.toml.")

    def tables(self, reader: JsonReader) -> None:
        for name in reader.members():
            table = TABLES.get(name)
            if table is None:
                raise BackupError(f"unknown table {name!r} in the backup ({reader.where()})")
            if name in self.result.counts:
                raise BackupError(f"table {name!r} appears twice in the backup ({reader.where()})")
            count, batch = 0, []
            for index in reader.items():
                batch.append(_row(table, reader.value(), f"{name} row {index + 1}"))
                count += 1
                if len(batch) >= BATCH_SIZE:
                    self._insert(name, table, batch, count)
                    batch = []
            self._insert(name, table, batch, count)
            self.result.counts[name] = count

    def _insert(self, name: str, table: Table, batch: list[dict[str, Any]], count: int) -> None:
        if not batch:
            return
        try:
            bulk_insert(self.conn, table, batch)  # COPY on PostgreSQL, executemany on SQLite
        except (DBAPIError, self.conn.dialect.dbapi.Error) as exc:
            problem = getattr(exc, "orig", None) or exc
            reason = str(problem).strip().splitlines()[0] if str(problem).strip() else type(problem).__name__
            raise BackupError(f"{name} rows {count - len(batch) + 1} to {count}: the database refused "
                              f"them ({reason})") from None
        if self.progress:
            self.progress(name, count)

    def fix_sequences(self) -> None:
        """New rows must get ids above every restored one, and bookmarks above every id ever used."""
        floor = self.sequences.get("bookmarks", 0)
        if not isinstance(floor, int) or isinstance(floor, bool) or floor < 0:
            raise BackupError(f'"sequences" bookmarks must be a whole number (got {floor!r})')
        tombstones = self.conn.execute(select(Tombstone.uri).where(Tombstone.uri.like("%/bookmarks/%"))).scalars()
        floor = max([floor] + [int(m.group(1)) for uri in tombstones if (m := re.search(r"/bookmarks/(\d+)$", uri))])
        if self.conn.dialect.name == "sqlite":
            self._sqlite_bookmark_floor(floor)
            return
        for name, table in {"owner": OWNER_TABLE, **TABLES}.items():
            if "id" not in table.c or list(table.primary_key.columns) != [table.c.id]:
                continue
            top = self.conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()
            top = max(top, floor) if name == "bookmarks" else top
            self.conn.execute(text("SELECT setval(pg_get_serial_sequence(:t, 'id'), :v, :called)"),
                              {"t": name, "v": max(top, 1), "called": top > 0})

    def _sqlite_bookmark_floor(self, floor: int) -> None:
        changed = self.conn.execute(text("UPDATE sqlite_sequence SET seq = max(seq, :v) WHERE name = 'bookmarks'"),
                                    {"v": floor}).rowcount
        if not changed and floor:
            self.conn.execute(text("INSERT INTO sqlite_sequence (name, seq) VALUES ('bookmarks', :v)"), {"v": floor})


def restore_backup(engine: Engine, config: Config, stream: TextIO,
                   progress: Progress | None = None) -> RestoreResult:
    """Restore ``stream`` into this (new, empty) instance in one transaction, then write its settings into
    the instance's config file. Raises BackupError, with nothing changed, on any problem."""
    _require_current_schema(engine)
    try:
        with engine.begin() as conn:
            restore = _restore(conn, config, JsonReader.from_stream(stream), progress)
    except BackupError as exc:
        raise BackupError(f"{exc}. Nothing was changed.") from None
    except JsonStreamError as exc:
        raise BackupError(f"the backup is damaged: {exc}. Nothing was changed.") from None
    except UnicodeDecodeError as exc:
        raise BackupError(f"the backup is not UTF-8 text ({exc.reason}). Nothing was changed.") from None
    result = restore.result
    if restore.settings_text is not None and config.path is not None:
        write_config_file(config.path, restore.settings_text)
        result.settings_file = config.path
    return result


def _restore(conn: Connection, config: Config, reader: JsonReader, progress: Progress | None) -> _Restore:
    _refuse_unless_empty(conn)
    restore = _Restore(conn, config, progress)
    keys = reader.members()
    _header(reader, keys)
    sections = {"sequences", "owner", "settings", "tables"}
    for key in keys:
        if key not in sections:
            raise BackupError(f"unexpected section {key!r} in the backup ({reader.where()})")
        sections.discard(key)
        if key == "tables":
            restore.tables(reader)
        elif key == "sequences":
            restore.sequences = reader.value()
            if not isinstance(restore.sequences, dict):
                raise BackupError('"sequences" must be an object')
        else:
            getattr(restore, key)(reader.value())
    reader.end()
    if sections - {"sequences"}:
        raise BackupError(f"the backup has no {', '.join(sorted(sections - {'sequences'}))} section: "
                          "it is incomplete")
    restore.fix_sequences()
    return restore
