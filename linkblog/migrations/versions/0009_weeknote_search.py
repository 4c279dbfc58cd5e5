"""weeknotes in the full-text search: SQLite FTS5 kept by triggers, PostgreSQL generated tsvector with GIN

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# The same tokenizer and text search config as the bookmarks' index (0002), so one query means the same on both.
SQLITE_UP = [
    """CREATE VIRTUAL TABLE weeknotes_fts USING fts5(
        title, body,
        content='weeknotes', content_rowid='id',
        tokenize='porter unicode61 remove_diacritics 2')""",
    """CREATE TRIGGER weeknotes_fts_insert AFTER INSERT ON weeknotes BEGIN
        INSERT INTO weeknotes_fts(rowid, title, body) VALUES (new.id, new.title, new.body);
    END""",
    """CREATE TRIGGER weeknotes_fts_delete AFTER DELETE ON weeknotes BEGIN
        INSERT INTO weeknotes_fts(weeknotes_fts, rowid, title, body) VALUES ('delete', old.id, old.title, old.body);
    END""",
    """CREATE TRIGGER weeknotes_fts_update AFTER UPDATE OF title, body ON weeknotes BEGIN
        INSERT INTO weeknotes_fts(weeknotes_fts, rowid, title, body) VALUES ('delete', old.id, old.title, old.body);
        INSERT INTO weeknotes_fts(rowid, title, body) VALUES (new.id, new.title, new.body);
    END""",
    "INSERT INTO weeknotes_fts(weeknotes_fts) VALUES ('rebuild')",
]

POSTGRES_UP = [
    """ALTER TABLE weeknotes ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A') ||
        setweight(to_tsvector('english'::regconfig, coalesce(body, '')), 'B')
    ) STORED""",
    "CREATE INDEX ix_weeknotes_search_vector ON weeknotes USING gin (search_vector)",
]


def upgrade() -> None:
    statements = SQLITE_UP if op.get_bind().dialect.name == "sqlite" else POSTGRES_UP
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("weeknotes_fts_insert", "weeknotes_fts_delete", "weeknotes_fts_update"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS weeknotes_fts")
    else:
        op.execute("DROP INDEX IF EXISTS ix_weeknotes_search_vector")
        op.execute("ALTER TABLE weeknotes DROP COLUMN IF EXISTS search_vector")
