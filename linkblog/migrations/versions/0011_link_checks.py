"""link checks: each bookmark's link state (ok, redirected, gone, unreachable, changed) for /admin/links

Revision ID: 0011
Revises: 0013
Create Date: 2026-12-07
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'link_checks',
        sa.Column('bookmark_id', sa.Integer(), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('state_since', sa.DateTime(), nullable=False),
        sa.Column('checked_at', sa.DateTime(), nullable=False),
        sa.Column('next_check_at', sa.DateTime(), nullable=False),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('first_failure_at', sa.DateTime(), nullable=True),
        sa.Column('last_status', sa.Integer(), nullable=True),
        sa.Column('redirect_url', sa.String(length=2048), nullable=True),
        sa.Column('etag', sa.String(length=255), nullable=True),
        sa.Column('last_modified', sa.String(length=64), nullable=True),
        sa.Column('fingerprint', sa.Text(), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('show_copy', sa.Boolean(), nullable=False),
        sa.Column('archive_requested_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['bookmark_id'], ['bookmarks.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('bookmark_id'),
    )
    op.create_index('ix_link_checks_next', 'link_checks', ['next_check_at'], unique=False)
    op.create_index('ix_link_checks_state_since', 'link_checks', ['state', 'state_since', 'bookmark_id'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_link_checks_state_since', table_name='link_checks')
    op.drop_index('ix_link_checks_next', table_name='link_checks')
    op.drop_table('link_checks')
