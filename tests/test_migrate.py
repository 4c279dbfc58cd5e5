"""Alembic migrations: they build the schema the models describe, and go down and up again."""
from __future__ import annotations

import pytest
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
    diff = [d for d in diff if "_fts" not in str(d) and "search_vector" not in str(d)]
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


def test_0005_keeps_one_like_and_one_boost_per_actor_and_item_then_enforces_it(engine):
    """Before 0005 an actor's likes under distinct ids were all stored; the migration keeps the first of each."""
    from alembic import command
    from sqlalchemy import insert, select
    from sqlalchemy.exc import IntegrityError

    from linkblog.migrate import alembic_config
    from linkblog.models import Interaction, RemoteActor

    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0004")
    with engine.begin() as conn:
        actor = conn.execute(insert(RemoteActor).values(uri="https://remote.example/users/a", inbox="")
                             .returning(RemoteActor.id)).scalar_one()
        for n, kind in enumerate(["like"] * 3 + ["announce"] * 2 + ["reply"] * 2):
            conn.execute(insert(Interaction).values(kind=kind, uri=f"https://remote.example/{n}", actor_id=actor,
                                                    target_kind="b", target_id=1))
    upgrade(engine)
    with engine.connect() as conn:
        kept = conn.execute(select(Interaction.kind, Interaction.uri).order_by(Interaction.id)).all()
    assert [tuple(r) for r in kept] == [("like", "https://remote.example/0"), ("announce", "https://remote.example/3"),
                                        ("reply", "https://remote.example/5"), ("reply", "https://remote.example/6")]
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(insert(Interaction).values(kind="like", uri="https://remote.example/again", actor_id=actor,
                                                target_kind="b", target_id=1))


def test_0014_rerenders_markdown_stored_by_older_releases_once(engine):
    """Annotations, weeknotes and the bio saved as older releases rendered them (h2 headings that outrank the
    list's item titles, Markdown images dropped without a trace) read as new ones do after the upgrade."""
    from alembic import command
    from alembic.script import ScriptDirectory
    from sqlalchemy import select

    from linkblog.markup import render_markdown
    from linkblog.migrate import alembic_config
    from linkblog.models import Bookmark, Owner, Weeknote

    before = ScriptDirectory.from_config(alembic_config()).get_revision("0014").down_revision
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), before)
    markdown = "## Why it matters\n\nSee ![the chart](https://img.example/c.png) and ![a local one](c.png)."
    old_html = "<h2>Why it matters</h2>\n<p>See  and .</p>"
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO bookmarks (url, title, annotation, annotation_html, quote, tags_text, "
                          "visibility, toread, created_at, updated_at) VALUES ('https://a.example/', 'A', "
                          ":md, :html, '', '', 'public', false, '2026-01-01', '2026-01-01')"),
                     {"md": markdown, "html": old_html})
        conn.execute(text("INSERT INTO bookmarks (url, title, annotation, annotation_html, quote, tags_text, "
                          "visibility, toread, created_at, updated_at) VALUES ('https://b.example/', 'B', "
                          "'', '', '', '', 'public', false, '2026-01-01', '2026-01-01')"))
        conn.execute(text("INSERT INTO weeknotes (week, title, body, body_html, status, visibility, created_at, "
                          "updated_at) VALUES ('2026-W10', '', :md, :html, 'published', 'public', '2026-03-06', "
                          "'2026-03-06')"), {"md": markdown, "html": old_html})
        conn.execute(text("UPDATE owner SET summary = '# Me', summary_html = '<h1>Me</h1>'"))
    upgrade(engine)
    with engine.connect() as conn:
        annotations = conn.execute(select(Bookmark.annotation_html, Bookmark.updated_at)
                                   .order_by(Bookmark.url)).all()
        note = conn.execute(select(Weeknote.body_html)).scalar_one()
        bio = conn.execute(select(Owner.summary_html)).scalar_one()
    new_html = render_markdown(markdown)
    assert annotations[0].annotation_html == note == new_html
    assert "<h2>" not in new_html and "<h3>Why it matters</h3>" in new_html
    assert '<img src="https://img.example/c.png" alt="the chart"' in new_html and "[a local one]" in new_html
    assert annotations[1].annotation_html == ""
    assert str(annotations[0].updated_at).startswith("2026-01-01")  # not an edit: feeds keep their dates
    assert bio == render_markdown("# Me") and "<h3>Me</h3>" in bio


def test_0017_folds_accents_in_rows_saved_before_it_and_goes_down_again(engine):
    """Bookmarks, weeknotes and saved pages stored before 0017 are found without their accents after it (on
    PostgreSQL the vectors are generated again; SQLite's index always folded them), and 0017 goes down cleanly."""
    from alembic import command

    from linkblog.migrate import alembic_config
    from linkblog.queries.search import search, weeknotes

    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0010")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO bookmarks (url, title, annotation, annotation_html, quote, tags_text, "
                          "visibility, toread, created_at, updated_at) VALUES ('https://a.example/', 'Café life', "
                          "'a naïve plan', '', '', 'crème', 'public', false, '2026-01-01', '2026-01-01')"))
        conn.execute(text("INSERT INTO weeknotes (week, title, body, body_html, status, visibility, created_at, "
                          "updated_at) VALUES ('2026-W10', 'Zürich', 'Über alles', '', 'published', 'public', "
                          "'2026-03-06', '2026-03-06')"))
    upgrade(engine)
    with engine.connect() as conn:
        for words in ("cafe", "naive", "creme", "café naïve"):
            assert [i["title"] for i in search(conn, words, owner=False, size=5).items] == ["Café life"], words
        assert weeknotes(conn, "zurich uber", owner=False).total == 1
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            command.downgrade(alembic_config(conn), "0010")
        with engine.connect() as conn:  # the vectors as 0002 made them: accents kept, no title vector
            assert conn.execute(text("SELECT count(*) FROM bookmarks WHERE search_vector @@ "
                                     "plainto_tsquery('english', 'café')")).scalar_one() == 1
            assert "search_vector_title" not in {c["name"] for c in inspect(conn).get_columns("bookmarks")}
        upgrade(engine)
