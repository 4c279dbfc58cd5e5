"""worker health: each worker's heartbeat and last progress, shown on the owner's delivery page

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'worker_health',
        sa.Column('name', sa.String(length=255), nullable=False),
        sa.Column('started_at', sa.DateTime(), nullable=False),
        sa.Column('beat_at', sa.DateTime(), nullable=False),
        sa.Column('progress_at', sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint('name'),
    )
    op.create_index('ix_worker_health_beat', 'worker_health', ['beat_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_worker_health_beat', table_name='worker_health')
    op.drop_table('worker_health')
