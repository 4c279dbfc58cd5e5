"""federation: remote actors, followers, following, outbox, delivery queue, inbox, interactions

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('blocked_actors',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uri', sa.String(length=2048), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('uri')
    )
    op.create_table('inbox_activities',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uri', sa.String(length=2048), nullable=False),
    sa.Column('actor_uri', sa.String(length=2048), nullable=False),
    sa.Column('type', sa.String(length=64), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.Column('processed_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('uri')
    )
    with op.batch_alter_table('inbox_activities', schema=None) as batch_op:
        batch_op.create_index('ix_inbox_activities_state_id', ['state', 'id'], unique=False)

    op.create_table('outbox_activities',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uri', sa.String(length=2048), nullable=False),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('object_uri', sa.String(length=2048), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('public', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('uri')
    )
    with op.batch_alter_table('outbox_activities', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_activities_public_id', ['public', 'id'], unique=False)

    op.create_table('remote_actors',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uri', sa.String(length=2048), nullable=False),
    sa.Column('inbox', sa.String(length=2048), nullable=False),
    sa.Column('shared_inbox', sa.String(length=2048), nullable=True),
    sa.Column('handle', sa.String(length=300), nullable=False),
    sa.Column('display_name', sa.String(length=500), nullable=False),
    sa.Column('url', sa.String(length=2048), nullable=True),
    sa.Column('icon_url', sa.String(length=2048), nullable=True),
    sa.Column('key_id', sa.String(length=2048), nullable=True),
    sa.Column('public_key_pem', sa.Text(), nullable=True),
    sa.Column('moved_to', sa.String(length=2048), nullable=True),
    sa.Column('fetched_at', sa.DateTime(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key_id'),
    sa.UniqueConstraint('uri')
    )
    op.create_table('remote_hosts',
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('failing_since', sa.DateTime(), nullable=True),
    sa.Column('last_success_at', sa.DateTime(), nullable=True),
    sa.Column('unavailable', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('host')
    )
    op.create_table('tombstones',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uri', sa.String(length=2048), nullable=False),
    sa.Column('former_type', sa.String(length=32), nullable=False),
    sa.Column('deleted_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('uri')
    )
    op.create_table('deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('activity_id', sa.Integer(), nullable=False),
    sa.Column('inbox', sa.String(length=2048), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(), nullable=False),
    sa.Column('claimed_until', sa.DateTime(), nullable=True),
    sa.Column('last_status', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['activity_id'], ['outbox_activities.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('activity_id', 'inbox', name='uq_deliveries_activity_inbox')
    )
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_deliveries_state_next', ['state', 'next_attempt_at'], unique=False)

    op.create_table('followers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=False),
    sa.Column('follow_uri', sa.String(length=2048), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['remote_actors.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('actor_id')
    )
    op.create_table('following',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=False),
    sa.Column('follow_uri', sa.String(length=2048), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['remote_actors.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('actor_id'),
    sa.UniqueConstraint('follow_uri')
    )
    op.create_table('interactions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('uri', sa.String(length=2048), nullable=False),
    sa.Column('activity_uri', sa.String(length=2048), nullable=True),
    sa.Column('actor_id', sa.Integer(), nullable=False),
    sa.Column('target_kind', sa.String(length=1), nullable=False),
    sa.Column('target_id', sa.Integer(), nullable=False),
    sa.Column('in_reply_to', sa.String(length=2048), nullable=True),
    sa.Column('content_html', sa.Text(), nullable=False),
    sa.Column('url', sa.String(length=2048), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('published', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['remote_actors.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('uri')
    )
    with op.batch_alter_table('interactions', schema=None) as batch_op:
        batch_op.create_index('ix_interactions_target', ['target_kind', 'target_id', 'kind', 'published'], unique=False)

    op.create_table('remote_posts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uri', sa.String(length=2048), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=False),
    sa.Column('link_url', sa.String(length=2048), nullable=False),
    sa.Column('title', sa.String(length=500), nullable=False),
    sa.Column('content_html', sa.Text(), nullable=False),
    sa.Column('url', sa.String(length=2048), nullable=True),
    sa.Column('published', sa.DateTime(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['remote_actors.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('uri')
    )
    with op.batch_alter_table('remote_posts', schema=None) as batch_op:
        batch_op.create_index('ix_remote_posts_published', ['published', 'id'], unique=False)

    # Plain ALTER TABLE ADD COLUMN: a batch rebuild of bookmarks would drop the FTS5 triggers on SQLite.
    op.add_column('bookmarks', sa.Column('via_actor_uri', sa.String(length=2048), nullable=True))
    op.add_column('bookmarks', sa.Column('via_post_uri', sa.String(length=2048), nullable=True))



def downgrade() -> None:
    op.drop_column('bookmarks', 'via_post_uri')  # SQLite >= 3.35 drops columns in place
    op.drop_column('bookmarks', 'via_actor_uri')

    with op.batch_alter_table('remote_posts', schema=None) as batch_op:
        batch_op.drop_index('ix_remote_posts_published')

    op.drop_table('remote_posts')
    with op.batch_alter_table('interactions', schema=None) as batch_op:
        batch_op.drop_index('ix_interactions_target')

    op.drop_table('interactions')
    op.drop_table('following')
    op.drop_table('followers')
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_deliveries_state_next')

    op.drop_table('deliveries')
    op.drop_table('tombstones')
    op.drop_table('remote_hosts')
    op.drop_table('remote_actors')
    with op.batch_alter_table('outbox_activities', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_activities_public_id')

    op.drop_table('outbox_activities')
    with op.batch_alter_table('inbox_activities', schema=None) as batch_op:
        batch_op.drop_index('ix_inbox_activities_state_id')

    op.drop_table('inbox_activities')
    op.drop_table('blocked_actors')
