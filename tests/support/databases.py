"""Test databases on the PostgreSQL server named by LINKBLOG_TEST_DATABASE_URL."""
from __future__ import annotations

import re

from sqlalchemy import create_engine, text

from linkblog.models import Base


def admin_url(url: str) -> str:
    """The same server through psycopg 3, whichever driver the URL names."""
    return re.sub(r"^postgresql(\+psycopg)?://", "postgresql+psycopg://", url)


def truncate_postgres(url: str) -> None:
    """Empty every table and restart the ids: a used database as good as a new one, faster."""
    engine = create_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()
