"""limits on what strangers can make us store: one like and one boost per actor and item, the inbox rate
counters, and the indexes the prunes and the interactions page need

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

# Spelled as in models.py (INBOX_WITH_PAYLOAD, ONE_PER_ACTOR_KINDS); a migration never imports the models.
INBOX_WITH_PAYLOAD = "payload != ''"
ONE_PER_ACTOR_KINDS = "kind IN ('like', 'announce')"


def upgrade() -> None:
    # The same actor's repeated likes (or boosts) of one item, each under its own activity id, counted as many:
    # keep the first of each before the unique index can exist.
    op.execute("DELETE FROM interactions WHERE kind IN ('like', 'announce') AND id NOT IN ("
               "SELECT min(id) FROM interactions WHERE kind IN ('like', 'announce') "
               "GROUP BY actor_id, kind, target_kind, target_id)")
    op.create_index('uq_interactions_one_per_actor', 'interactions', ['actor_id', 'kind', 'target_kind', 'target_id'],
                    unique=True, sqlite_where=sa.text(ONE_PER_ACTOR_KINDS),
                    postgresql_where=sa.text(ONE_PER_ACTOR_KINDS))
    op.create_index('ix_interactions_published', 'interactions', ['published', 'id'], unique=False)
    op.create_index('ix_deliveries_state_updated', 'deliveries', ['state', 'updated_at'], unique=False)
    op.create_index('ix_inbox_activities_received', 'inbox_activities', ['received_at', 'id'], unique=False)
    op.create_index('ix_inbox_activities_payload_received', 'inbox_activities', ['received_at', 'id'], unique=False,
                    sqlite_where=sa.text(INBOX_WITH_PAYLOAD), postgresql_where=sa.text(INBOX_WITH_PAYLOAD))
    op.create_table('inbox_rates',
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('window_start', sa.DateTime(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('host', 'window_start')
    )


def downgrade() -> None:
    op.drop_table('inbox_rates')
    op.drop_index('ix_inbox_activities_payload_received', table_name='inbox_activities')
    op.drop_index('ix_inbox_activities_received', table_name='inbox_activities')
    op.drop_index('ix_deliveries_state_updated', table_name='deliveries')
    op.drop_index('ix_interactions_published', table_name='interactions')
    op.drop_index('uq_interactions_one_per_actor', table_name='interactions')
