"""settings from the UI: stored site settings, the owner's rendered bio and avatar

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'settings',
        sa.Column('key', sa.String(length=64), nullable=False),
        sa.Column('value', sa.Text(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('key'),
    )
    op.create_table(
        'avatars',
        sa.Column('digest', sa.String(length=64), nullable=False),
        sa.Column('media_type', sa.String(length=32), nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.Column('width', sa.Integer(), nullable=False),
        sa.Column('height', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('digest'),
    )
    # Plain ADD COLUMN on the owner row (never a batch recreate).
    op.add_column('owner', sa.Column('summary_html', sa.Text(), nullable=False, server_default=''))
    op.add_column('owner', sa.Column('avatar_digest', sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column('owner', 'avatar_digest')
    op.drop_column('owner', 'summary_html')
    op.drop_table('avatars')
    op.drop_table('settings')
