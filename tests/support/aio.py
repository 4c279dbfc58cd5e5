"""Running a coroutine from a synchronous test."""
from __future__ import annotations

import asyncio
import threading
from typing import Any, Callable, Coroutine


def run_async(make_coroutine: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    """asyncio.run() in a thread of its own: a Playwright (sync API) browser test earlier in the same
    xdist worker leaves an event loop running on the main thread, where asyncio.run() is refused."""
    outcome: dict = {}

    def target() -> None:
        try:
            outcome["value"] = asyncio.run(make_coroutine())
        except BaseException as exc:  # noqa: BLE001  (re-raised on the caller's thread)
            outcome["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
