"""bookmarks.archived: the owner's "archived" state (linkding's is_archived), hidden from the owner's own lists

Revision ID: 0012
Revises: 0014
Create Date: 2026-12-07
"""
from alembic import op
import sqlalchemy as sa


revision = "0012"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN, never a batch "recreate": rebuilding bookmarks on SQLite would drop the FTS triggers.
    op.add_column("bookmarks", sa.Column("archived", sa.Boolean(), nullable=False, server_default=sa.false()))
    # The owner's home and the archived list (linkding's two lists): each one index range, newest first.
    op.create_index("ix_bookmarks_archived_created", "bookmarks", ["archived", "created_at", "id"], unique=False)
    # The reading list leaves archived bookmarks out: the to-read index gains the column.
    op.drop_index("ix_bookmarks_toread_created", table_name="bookmarks")
    op.create_index("ix_bookmarks_toread_created", "bookmarks", ["toread", "archived", "created_at", "id"],
                    unique=False)


def downgrade() -> None:
    op.drop_index("ix_bookmarks_toread_created", table_name="bookmarks")
    op.create_index("ix_bookmarks_toread_created", "bookmarks", ["toread", "created_at", "id"], unique=False)
    op.drop_index("ix_bookmarks_archived_created", table_name="bookmarks")
    op.drop_column("bookmarks", "archived")
