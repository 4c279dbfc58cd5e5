"""moving in and out: the to-read flag, account aliases (alsoKnownAs) and a Move out (movedTo)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN, never a batch "recreate": rebuilding bookmarks on SQLite would drop the FTS triggers.
    op.add_column('bookmarks', sa.Column('toread', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_index('ix_bookmarks_toread_created', 'bookmarks', ['toread', 'created_at', 'id'], unique=False)
    op.add_column('owner', sa.Column('also_known_as', sa.Text(), nullable=False, server_default=''))
    op.add_column('owner', sa.Column('moved_to', sa.String(length=2048), nullable=True))
    op.add_column('owner', sa.Column('moved_at', sa.DateTime(), nullable=True))


def downgrade() -> None:
    # SQLite 3.35+ drops columns in place, so the bookmarks table (and its FTS triggers) is not rebuilt.
    op.drop_column('owner', 'moved_at')
    op.drop_column('owner', 'moved_to')
    op.drop_column('owner', 'also_known_as')
    op.drop_index('ix_bookmarks_toread_created', table_name='bookmarks')
    op.drop_column('bookmarks', 'toread')
