"""WSGI entry point for production servers: ``gunicorn 'linkblog.wsgi:app'`` with LINKBLOG_CONFIG set."""
from __future__ import annotations

import sys

from . import create_app
from .config import ConfigError

try:
    app = create_app()
except ConfigError as exc:  # one clear line, no stack trace, for a setting the owner got wrong
    sys.stderr.write(f"linkblog: configuration error: {exc}\n")
    raise SystemExit(2) from None
