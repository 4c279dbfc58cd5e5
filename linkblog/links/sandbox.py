"""Reading a fetched page in a child process with a hard time limit, so no page can stall the worker.

trafilatura is pure Python over lxml: most pages take milliseconds, but a hostile one (megabytes of links, tens of
thousands of tiny blocks) can take minutes, and a thread cannot be stopped. So each page is read in a child of a
``forkserver`` (started once, clean and single-threaded, with trafilatura already imported: a child starts in
milliseconds) and killed when ``[copies] extract_timeout`` is up. The child's answer comes back through a pipe; a
child that dies or sends nothing is a reason, never an exception in the worker.
"""
from __future__ import annotations

import multiprocessing
import threading
from multiprocessing.connection import Connection
from typing import Any

from .extract import Page

_PRELOAD = ["linkblog.links.extract", "trafilatura", "lxml.html", "charset_normalizer"]
_context_lock = threading.Lock()
_context: Any = None


class ReadFailed(Exception):
    """The page could not be read in time or at all; ``str(exc)`` is the owner's reason."""


def _forkserver() -> Any:
    global _context
    with _context_lock:
        if _context is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(_PRELOAD)
            _context = context
        return _context


def _child(send: Connection, args: tuple[Any, ...]) -> None:
    from .extract import page_of

    try:
        send.send(("ok", page_of(*args)))
    except Exception as exc:  # noqa: BLE001  (reported to the parent as a reason)
        send.send(("error", type(exc).__name__))
    finally:
        send.close()


def read_page(media: str, body: bytes, content_type: str, url: str, max_text_chars: int, timeout: float) -> Page:
    """``extract.page_of`` in a child process; raises ``ReadFailed`` after ``timeout`` seconds or on any failure."""
    context = _forkserver()
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(send, (media, body, content_type, url, max_text_chars)),
                            daemon=True, name="linkblog-page-reader")
    child.start()
    send.close()
    try:
        if not receive.poll(timeout):
            raise ReadFailed(f"the page took too long to read (more than {timeout:g} s)")
        try:
            kind, value = receive.recv()
        except (EOFError, OSError):
            raise ReadFailed("the page could not be read (the reader stopped)") from None
        if kind != "ok":
            raise ReadFailed(f"the page could not be read ({value})")
        return value
    finally:
        receive.close()
        if child.is_alive():
            child.kill()
        child.join(5)


__all__ = ["ReadFailed", "read_page"]
