"""Alembic environment: the engine comes from the app's config, passed in by linkblog.migrate."""
from __future__ import annotations

from alembic import context

from linkblog.db import Base
from linkblog import models  # noqa: F401  (registers the tables)

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `linkblog db upgrade`, which passes the connection")

context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True,
                  compare_type=True)
with context.begin_transaction():
    context.run_migrations()
