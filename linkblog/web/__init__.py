"""Blueprints (thin views), template helpers and error pages."""
from __future__ import annotations

from datetime import datetime, timezone
from functools import lru_cache

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from .. import site
from ..dates import rfc3339
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


def register(app: Flask) -> None:
    from . import (account, activitypub, admin, api, auth, bookmarklet, discovery, fediverse, feeds, inbox, owner,
                   public, search, security, settings, transfer)

    security.init_app(app)
    app.jinja_env.filters.update(iso=iso, human_date=human_date, host=display_host, absolute=absolute,
                                  excerpt=excerpt)
    app.jinja_env.globals.update(cfg=lambda section, key: site().settings().get(section, key))
    settings.register_globals(app)
    for module in (public, auth, owner, admin, account, fediverse, search, feeds, bookmarklet, api, transfer,
                   discovery, activitypub, inbox, settings):
        app.register_blueprint(module.bp)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):  # noqa: ANN202
        if request.path.startswith("/api/"):
            return jsonify(error=exc.description or exc.name), exc.code
        return render_template("error.html", error=exc), exc.code
