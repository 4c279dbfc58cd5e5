"""Engine and sessions, one per app, and the declarative Base every model shares."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import Any, Callable, Hashable

from sqlalchemy import Connection, Engine, Table, create_engine, event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql.elements import ClauseElement
from sqlalchemy.orm import DeclarativeBase, sessionmaker
from sqlalchemy.pool import NullPool


class Base(DeclarativeBase):
    pass


def utcnow() -> datetime:
    """Naive UTC, the one time representation stored in every table on every database."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 15})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # noqa: ANN001
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


def make_sessionmaker(engine: Engine) -> sessionmaker:
    return sessionmaker(bind=engine, expire_on_commit=False)


Bind = Engine | Connection
"""What the services take: an Engine for a unit of work of their own, or the caller's Connection."""


class SharedReads:
    """One reading connection for a whole unit of work (a web request): the settings, the page's reads and the
    profile in the footer all used to check out a connection of their own, and on PostgreSQL each checkout
    costs a pre-ping round trip. Opened on first use, in autocommit (no BEGIN/ROLLBACK round trips; every
    statement sees what is committed, as READ COMMITTED did), closed by :func:`end_shared_reads`."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.conn: Connection | None = None

    def connection(self) -> Connection:
        if self.conn is None or self.conn.closed:
            self.conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        return self.conn

    def close(self) -> None:
        if self.conn is not None:
            conn, self.conn = self.conn, None
            with contextlib.suppress(Exception):  # a dead connection is dropped from the pool by close()
                conn.close()


_SHARED: ContextVar[SharedReads | None] = ContextVar("linkblog_shared_reads", default=None)


def begin_shared_reads(engine: Engine) -> SharedReads:
    """From now on in this context, ``reading(engine)`` hands out one shared connection (see SharedReads)."""
    scope = SharedReads(engine)
    _SHARED.set(scope)
    return scope


def end_shared_reads(scope: SharedReads | None) -> None:
    if _SHARED.get() is scope:
        _SHARED.set(None)
    if scope is not None:
        scope.close()


@contextlib.contextmanager
def reading(bind: Bind) -> Iterator[Connection]:
    """A connection to read with: the caller's, the unit of work's shared one (``begin_shared_reads``), or a
    new one from the engine. Never write through it: the shared one is in autocommit."""
    if isinstance(bind, Connection):
        yield bind
        return
    scope = _SHARED.get()
    if scope is None or scope.engine is not bind:
        with bind.connect() as conn:
            yield conn
        return
    try:
        yield scope.connection()
    except SQLAlchemyError:
        scope.close()  # a failed statement (a dropped connection) must not poison the request's later reads
        raise


@contextlib.contextmanager
def writing(bind: Bind) -> Iterator[Connection]:
    """An Engine gets its own short transaction; a Connection is the caller's, who commits it."""
    if isinstance(bind, Connection):
        yield bind
    else:
        with bind.begin() as conn:
            yield conn


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def dialect_insert(conn: Connection, table: Table) -> Any:
    """An INSERT in the connection's own dialect, which (unlike the generic :class:`Insert`) has ON CONFLICT:
    PostgreSQL's and SQLite's both offer ``on_conflict_do_nothing`` and ``on_conflict_do_update`` with the
    same arguments. The PostgreSQL dialect is imported only when used, so SQLite sites never load it."""
    return insert_for(conn.dialect.name, table)


def insert_for(dialect: str, table: Table) -> Any:
    """:func:`dialect_insert` by dialect name, for statements built once and kept (see :func:`prebuilt`)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


_PREBUILT: dict[tuple[str, Hashable], Any] = {}


def prebuilt(conn: Connection, key: Hashable, build: Callable[[str], Any]) -> Any:
    """The statement ``build(dialect name)`` makes, built once per dialect and ``key`` and then reused, to be
    executed with its values as parameters. Building a statement and its cache key costs more CPU than
    SQLite takes to run it; on a path taken for every request (the inbox) that matters."""
    found = _PREBUILT.get((conn.dialect.name, key))
    if found is None:
        found = _PREBUILT[(conn.dialect.name, key)] = build(conn.dialect.name)
    return found


def insert_ignoring(conn: Connection, table: Table, values: dict[str, Any], conflict_columns: list[str] | None) -> bool:
    """Insert one row unless a row with the same ``conflict_columns`` (a unique index) exists; True when it was
    inserted. Safe against a concurrent insert of the same row, where a select-then-insert is not. ``None``
    ignores a clash with any of the table's unique indexes (a row unique in more than one way)."""
    conflict = tuple(conflict_columns) if conflict_columns else None

    def build(dialect: str) -> Any:
        insert = insert_for(dialect, table)
        statement = insert.on_conflict_do_nothing(index_elements=list(conflict)) if conflict \
            else insert.on_conflict_do_nothing()
        # RETURNING says whether a row went in; rowcount does not always (SQLAlchemy 2.1 with psycopg reports -1
        # for INSERT ... ON CONFLICT DO NOTHING, which would make every new row look like a repeat).
        return statement.returning(next(iter(table.primary_key.columns)))

    statement = prebuilt(conn, ("insert_ignoring", table.name, conflict), build)
    if any(isinstance(value, ClauseElement) for value in values.values()):   # SQL expressions: inline them
        statement = statement.values(**values)
        return conn.execute(statement).first() is not None
    return conn.execute(statement, values).first() is not None


__all__ = ["Base", "utcnow", "make_engine", "make_sessionmaker", "is_sqlite", "NullPool", "dialect_insert",
           "insert_for", "insert_ignoring", "prebuilt"]


# Rows per round trip wherever many rows move at once (import, export, backup, restore): large enough that
# per-statement cost disappears, small enough that a batch stays a few MB in memory.
BATCH_SIZE = 1000


def bulk_insert(conn, table, rows: list[dict]) -> None:  # noqa: ANN001
    """Insert many rows in one go: PostgreSQL's COPY (one round trip, several times faster than a pipeline of
    INSERTs for an import), Core executemany elsewhere. Every row must have the same keys."""
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        conn.execute(table.insert(), rows)
        return
    columns = list(rows[0])
    names = ", ".join(conn.dialect.identifier_preparer.quote(name) for name in columns)
    cursor = conn.connection.driver_connection.cursor()
    with cursor.copy(f"COPY {conn.dialect.identifier_preparer.format_table(table)} ({names}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([row[name] for name in columns])
