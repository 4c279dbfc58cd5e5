"""Alembic migrations: they build the schema the models describe, and go down and up again."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from linkblog.db import make_engine
from linkblog.migrate import current_revision, head_revision, upgrade
from linkblog.models import Base


def test_migrated_schema_matches_the_models(engine):
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    # the search index (FTS5 tables / the generated tsvector column) lives outside the models on purpose
    diff = [d for d in diff if "bookmarks_fts" not in str(d) and "search_vector" not in str(d)]
    assert diff == []
    assert current_revision(engine) == head_revision()


def test_downgrade_to_nothing_and_back(tmp_path):
    from alembic import command

    from linkblog.migrate import alembic_config

    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    upgrade(engine)
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade(engine)
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    assert "bookmarks_fts" in inspect(engine).get_table_names()


def test_head_revision_agrees_with_alembic():
    from alembic.script import ScriptDirectory

    from linkblog.migrate import alembic_config

    assert head_revision() == ScriptDirectory.from_config(alembic_config()).get_current_head()


def test_adding_columns_to_bookmarks_keeps_the_sqlite_search_triggers(tmp_path):
    """0004 adds bookmarks.toread; rebuilding the table (a batch 'recreate') would silently drop the FTS triggers."""
    from alembic import command

    from linkblog.migrate import alembic_config

    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    upgrade(engine)
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0003")
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO bookmarks (url, title, annotation, annotation_html, quote, tags_text, "
                          "visibility, toread, created_at, updated_at) VALUES ('https://a.example/', 'Zymurgy "
                          "notes', '', '', '', '', 'public', 1, '2026-01-01', '2026-01-01')"))
        found = conn.execute(text("SELECT rowid FROM bookmarks_fts WHERE bookmarks_fts MATCH 'zymurgy'")).all()
    assert len(found) == 1
