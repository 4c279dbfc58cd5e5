"""The request as signature checks see it: the target exactly as it was signed, and the clock the
signature's time window is checked against (tests fix it). Shared by the inbox view and the check of
who signed a GET."""
from __future__ import annotations

from datetime import datetime
from typing import Callable
from urllib.parse import urlsplit

from flask import current_app, request

from ..db import utcnow

CLOCK_KEY = "linkblog.clock"   # tests put a fixed clock here; the signature window is checked against it


def now() -> datetime:
    clock: Callable[[], datetime] = current_app.extensions.get(CLOCK_KEY, utcnow)
    return clock()


def raw_target() -> str:
    """The request target exactly as sent (still percent-encoded), which is what was signed."""
    environ = request.environ
    target = environ.get("RAW_URI") or environ.get("REQUEST_URI") or ""
    if target.startswith(("http://", "https://")):   # absolute-form request line
        parts = urlsplit(target)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
    if not target.startswith("/"):
        query = environ.get("QUERY_STRING", "")
        target = request.path + (f"?{query}" if query else "")
    return target
