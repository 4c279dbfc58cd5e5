"""full-text search index: SQLite FTS5 kept by triggers, PostgreSQL generated tsvector with GIN

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SQLITE_UP = [
    """CREATE VIRTUAL TABLE bookmarks_fts USING fts5(
        title, tags_text, annotation, quote, url,
        content='bookmarks', content_rowid='id',
        tokenize='porter unicode61 remove_diacritics 2')""",
    """CREATE TRIGGER bookmarks_fts_insert AFTER INSERT ON bookmarks BEGIN
        INSERT INTO bookmarks_fts(rowid, title, tags_text, annotation, quote, url)
        VALUES (new.id, new.title, new.tags_text, new.annotation, new.quote, new.url);
    END""",
    """CREATE TRIGGER bookmarks_fts_delete AFTER DELETE ON bookmarks BEGIN
        INSERT INTO bookmarks_fts(bookmarks_fts, rowid, title, tags_text, annotation, quote, url)
        VALUES ('delete', old.id, old.title, old.tags_text, old.annotation, old.quote, old.url);
    END""",
    """CREATE TRIGGER bookmarks_fts_update AFTER UPDATE OF title, tags_text, annotation, quote, url
        ON bookmarks BEGIN
        INSERT INTO bookmarks_fts(bookmarks_fts, rowid, title, tags_text, annotation, quote, url)
        VALUES ('delete', old.id, old.title, old.tags_text, old.annotation, old.quote, old.url);
        INSERT INTO bookmarks_fts(rowid, title, tags_text, annotation, quote, url)
        VALUES (new.id, new.title, new.tags_text, new.annotation, new.quote, new.url);
    END""",
    "INSERT INTO bookmarks_fts(bookmarks_fts) VALUES ('rebuild')",
]

POSTGRES_UP = [
    """ALTER TABLE bookmarks ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A') ||
        setweight(to_tsvector('english'::regconfig, coalesce(tags_text, '')), 'A') ||
        setweight(to_tsvector('english'::regconfig, coalesce(annotation, '')), 'B') ||
        setweight(to_tsvector('english'::regconfig, coalesce(quote, '')), 'C') ||
        setweight(to_tsvector('english'::regconfig,
                  regexp_replace(coalesce(url, ''), '[^[:alnum:]]+', ' ', 'g')), 'D')
    ) STORED""",
    # Ranking reads the vector of every match: keep it in the row and let the long text columns go to
    # TOAST first, instead of one TOAST lookup per match on bookmarks with long annotations.
    "ALTER TABLE bookmarks ALTER COLUMN search_vector SET STORAGE MAIN",
    "CREATE INDEX ix_bookmarks_search_vector ON bookmarks USING gin (search_vector)",
]


def upgrade() -> None:
    statements = SQLITE_UP if op.get_bind().dialect.name == "sqlite" else POSTGRES_UP
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("bookmarks_fts_insert", "bookmarks_fts_delete", "bookmarks_fts_update"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS bookmarks_fts")
    else:
        op.execute("DROP INDEX IF EXISTS ix_bookmarks_search_vector")
        op.execute("ALTER TABLE bookmarks DROP COLUMN IF EXISTS search_vector")
