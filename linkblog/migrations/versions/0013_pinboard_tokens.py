"""Pinboard-compatible API: tokens that may travel in a query string, and when the bookmarks last changed

``api_tokens.query_string_allowed``: only tokens made for Pinboard apps (``linkblog token create NAME
--pinboard``) are accepted as ``?auth_token=`` on /v1/. ``owner.bookmarks_changed_at``: the last add, change
(the owner's to-read flag included) or delete of any bookmark, for /v1/posts/update (a delete leaves no row);
``ix_bookmarks_updated``, so that answer (the newest ``updated_at``) is one index lookup, however often apps poll.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""
from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('api_tokens') as batch:
        batch.add_column(sa.Column('query_string_allowed', sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
    with op.batch_alter_table('owner') as batch:
        batch.add_column(sa.Column('bookmarks_changed_at', sa.DateTime(), nullable=True))
    op.create_index('ix_bookmarks_updated', 'bookmarks', ['updated_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_bookmarks_updated', table_name='bookmarks')
    with op.batch_alter_table('owner') as batch:
        batch.drop_column('bookmarks_changed_at')
    with op.batch_alter_table('api_tokens') as batch:
        batch.drop_column('query_string_allowed')
