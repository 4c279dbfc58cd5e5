"""The web application: ``create_app`` wires config, database, blueprints and security headers."""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from flask import Flask
from sqlalchemy import Engine

from .config import Config, load_config
from .db import make_engine

if TYPE_CHECKING:
    from .settings import Settings

PACKAGE_DIR = Path(__file__).resolve().parent


def templates_dir(package_dir: Path = PACKAGE_DIR) -> Path:
    """The Jinja templates: inside the package when installed from the wheel (pyproject ships the repository's
    top-level templates/ as linkblog/templates), else that top-level folder beside the package (a source
    checkout or an editable install). Fails at start-up rather than with a TemplateNotFound on every page."""
    for folder in (package_dir / "templates", package_dir.parent / "templates"):
        if (folder / "base.html").is_file():
            return folder
    raise RuntimeError(f"linkblog's templates are missing: neither {package_dir / 'templates'} nor "
                       f"{package_dir.parent / 'templates'} holds base.html; reinstall linkblog")


TEMPLATES_DIR = templates_dir()


@dataclass
class Site:
    """What every request needs: the validated config and the database engine."""

    config: Config
    engine: Engine

    def settings(self) -> "Settings":
        """The settings in force for this request: the owner's saved ones over config.toml, read once per
        request. Read site title, description, time zone, default visibility and follow approval here."""
        from flask import g, has_request_context
        from sqlalchemy.exc import SQLAlchemyError

        from . import settings

        if not has_request_context():
            return settings.load(self.engine, self.config)
        if "linkblog_settings" not in g:
            try:
                g.linkblog_settings = settings.load(self.engine, self.config)
            except SQLAlchemyError:  # the error page of a database that is down must still render
                logging.getLogger("linkblog").exception("cannot read the saved settings; config.toml's apply")
                g.linkblog_settings = settings.Settings(self.config)
        return g.linkblog_settings


def create_app(config: Config | None = None) -> Flask:
    if config is None:
        config = load_config(os.environ.get("LINKBLOG_CONFIG"))
    app = Flask(__name__, template_folder=str(TEMPLATES_DIR), static_folder=str(PACKAGE_DIR / "static"))
    app.config.update(
        SECRET_KEY=config.secret_key,
        SESSION_COOKIE_NAME="linkblog_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=_secure_cookies(config),
        PERMANENT_SESSION_LIFETIME=60 * 60 * 24 * 30,
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
        JSON_SORT_KEYS=False,
    )
    app.json.sort_keys = False
    logging.basicConfig(level=config.get("logging", "level"), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from .compat.pinboard import install_log_redaction

    install_log_redaction()  # Pinboard apps send their token in /v1/ query strings: no log may keep one
    app.extensions["linkblog"] = Site(config=config, engine=make_engine(config.database_url))
    if config.get("federation", "allow_private_addresses"):
        logging.getLogger("linkblog").warning(
            "[federation] allow_private_addresses is ON: this server will talk to loopback and private "
            "addresses over plain http. Use it only for tests and local trials, never in production.")

    proxies = config.get("server", "trusted_proxies")
    if proxies:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)  # type: ignore[method-assign]

    from .web import register

    register(app)
    return app


def _secure_cookies(config: Config) -> bool:
    mode = config.get("security", "secure_cookies")
    return config.https if mode == "auto" else mode == "always"
