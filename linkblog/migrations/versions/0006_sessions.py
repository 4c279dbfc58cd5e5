"""owner sessions kept on the server (logout revokes them) and per-account login failures

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('owner_sessions',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    # Plain ADD COLUMN with a server default: works in place on SQLite and PostgreSQL.
    op.add_column('login_failures', sa.Column('account', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_index('ix_login_failures_account_at', 'login_failures', ['account', 'at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_login_failures_account_at', table_name='login_failures')
    op.drop_column('login_failures', 'account')
    op.drop_table('owner_sessions')
