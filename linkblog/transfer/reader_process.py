"""Parse and validate an import file in a second process while this one writes to the database.

Parsing, validation and Markdown rendering are pure CPU work and about half of an import; on a machine with
two cores, running them beside the database writes nearly halves the time. The child sends batches through a
bounded queue, so memory stays flat however large the file is. It never touches the database: if anything
fails (a ParseError, the child dying) the parent raises, and its one transaction rolls back.
"""
from __future__ import annotations

import multiprocessing
import os
import queue as queues
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from .formats.entries import ImportedBookmark, Invalid, ParseError
from ..db import BATCH_SIZE
from .importer import Prepared, prepare

QUEUE_BATCHES = 4  # at most this many batches wait in the pipe: bounded memory on both sides
POLL_SECONDS = 1.0

Parser = Callable[[Any], Iterable[ImportedBookmark | Invalid]]


class ReaderFailed(RuntimeError):
    """The process reading the file failed for a reason other than a broken file (which is a ParseError)."""


def _produce(path: str, parse: Parser, all_private: bool, out: Any, parent: int) -> None:
    """The child: send ("rows", batch, bytes read) messages, then ("end",) or an error message."""

    def send(message: tuple) -> None:
        while True:
            try:
                out.put(message, timeout=POLL_SECONDS)
                return
            except queues.Full:
                if os.getppid() != parent:  # the importing process is gone (killed): stop quietly
                    os._exit(0)

    try:
        with open(path, encoding="utf-8", errors="replace") as stream:
            batch: list[Prepared | Invalid] = []
            for entry in prepare(parse(stream), all_private):
                batch.append(entry)
                if len(batch) >= BATCH_SIZE:
                    send(("rows", batch, stream.buffer.tell()))
                    batch = []
            send(("rows", batch, os.fstat(stream.fileno()).st_size))
        send(("end",))
    except ParseError as exc:
        send(("parse_error", exc.position, exc.reason))
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which fails the import
        send(("error", f"{type(exc).__name__}: {exc}"))


def prepared_from_file(path: Path, parse: Parser, bytes_read: Callable[[int], None] | None = None, *,
                       all_private: bool = False) -> Iterator[Prepared | Invalid]:
    """Entries of ``path`` prepared in a child process; raises ParseError (or ReaderFailed) from it."""
    context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods()
                                          else "spawn")
    pipe = context.Queue(maxsize=QUEUE_BATCHES)
    child = context.Process(target=_produce, args=(str(path), parse, all_private, pipe, os.getpid()), daemon=True,
                            name="linkblog-import-parser")
    child.start()
    try:
        while True:
            try:
                message = pipe.get(timeout=POLL_SECONDS)
            except queues.Empty:
                if not child.is_alive():
                    raise ReaderFailed(f"the process reading the file stopped (exit code {child.exitcode})"
                                       ) from None
                continue
            kind = message[0]
            if kind == "end":
                return
            if kind == "parse_error":
                raise ParseError(message[1], message[2])
            if kind == "error":
                raise ReaderFailed(f"reading the file failed: {message[1]}")
            yield from message[1]
            if bytes_read is not None:
                bytes_read(message[2])
    finally:
        if child.is_alive():
            child.terminate()
        child.join(timeout=5)
        pipe.close()
