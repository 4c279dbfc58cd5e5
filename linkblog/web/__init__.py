"""Blueprints (thin views), template helpers and error pages."""
from __future__ import annotations

import zlib
from datetime import datetime, timezone
from functools import lru_cache

from flask import Flask, g, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from .. import site
from ..dates import rfc3339
from ..db import begin_shared_reads, end_shared_reads
from ..markup import excerpt
from ..urls import display_host


def iso(moment: datetime | None) -> str:
    """RFC 3339 in UTC, as feeds, microformats and ActivityStreams want it."""
    return "" if moment is None else rfc3339(moment)


def human_date(moment: datetime | None) -> str:
    if moment is None:
        return ""
    try:
        local = moment.replace(tzinfo=timezone.utc).astimezone(zone(site().settings().get("site", "timezone")))
    except OverflowError:   # a stored year 1 or 9999 has no local time west or east of UTC: show it in UTC
        local = moment
    return f"{local.day} {local:%b %Y}"


@lru_cache(maxsize=8)
def zone(name: str):  # noqa: ANN202
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


def absolute(path: str) -> str:
    return site().config.base_url + path


HOST_HUES = 8   # .host-mark.hue-0 … hue-7 in style.css


def host_mark(host: str) -> dict[str, str | int]:
    """A placeholder icon for a host: its first letter on one of a few colours picked from the name, so links
    from one site look alike at a glance without fetching anyone's favicon (no request leaves for it, and no
    reader's browser is sent to a stranger's server)."""
    letter = next((c for c in host if c.isalnum()), "?").upper()
    return {"letter": letter, "hue": zlib.crc32(host.encode()) % HOST_HUES}


def register(app: Flask) -> None:
    from . import (account, activitypub, admin, api, auth, bookmarklet, copies, discovery, fediverse, feeds, inbox,
                   linkding, links, owner, pinboard, public, search, security, settings, transfer)

    security.init_app(app)

    @app.before_request
    def _shared_reads() -> None:
        # One reading connection per request (settings, the page, the footer's profile): see db.SharedReads.
        g.linkblog_reads = begin_shared_reads(site().engine)

    @app.teardown_request
    def _end_shared_reads(_exc: BaseException | None) -> None:
        end_shared_reads(g.pop("linkblog_reads", None))

    app.jinja_env.filters.update(iso=iso, human_date=human_date, host=display_host, host_mark=host_mark,
                                  absolute=absolute, excerpt=excerpt)
    app.jinja_env.globals.update(cfg=lambda section, key: site().settings().get(section, key))
    settings.register_globals(app)
    for module in (public, auth, owner, admin, account, fediverse, search, feeds, bookmarklet, api, transfer,
                   discovery, activitypub, inbox, settings, linkding, pinboard, links, copies):
        app.register_blueprint(module.bp)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):  # noqa: ANN202
        if request.path.startswith("/api/"):
            return jsonify(error=exc.description or exc.name), exc.code
        return render_template("error.html", error=exc), exc.code
