"""linkblog: a single-user, federated link blog.

Nothing is imported at package import time: the federation worker must not pay for Flask and the web
stack it never uses. ``create_app`` (in ``app.py``) builds the web application.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

    from .app import Site
    from .config import Config


def create_app(config: "Config | None" = None) -> "Flask":
    from .app import create_app as build

    return build(config)


def site() -> "Site":
    """The current app's config and engine (inside a request or app context)."""
    from flask import current_app

    return current_app.extensions["linkblog"]


def __getattr__(name: str) -> Any:
    if name in ("Site", "PACKAGE_DIR", "TEMPLATES_DIR"):
        from . import app

        return getattr(app, name)
    raise AttributeError(name)
