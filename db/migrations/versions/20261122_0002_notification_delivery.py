"""notification delivery

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 11:30:15.707965
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('rate_buckets',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('rate', sa.Float(), nullable=False),
    sa.Column('capacity', sa.Float(), nullable=False),
    sa.Column('tokens', sa.Float(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_rate_buckets'))
    )
    op.create_table('api_keys',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('business_id', sa.BigInteger(), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['business_id'], ['businesses.id'], name=op.f('fk_api_keys_business_id_businesses'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_keys')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_api_keys_key_hash'))
    )
    op.create_index(op.f('ix_api_keys_business_id'), 'api_keys', ['business_id'], unique=False)
    op.create_table('broadcasts',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('business_id', sa.BigInteger(), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('recipient_count', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), server_default='running', nullable=False),
    sa.Column('report', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['business_id'], ['businesses.id'], name=op.f('fk_broadcasts_business_id_businesses'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_broadcasts'))
    )
    op.create_index(op.f('ix_broadcasts_business_id'), 'broadcasts', ['business_id'], unique=False)
    op.create_table('template_overrides',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('business_id', sa.BigInteger(), nullable=False),
    sa.Column('event', sa.String(length=64), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('part', sa.String(length=16), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['business_id'], ['businesses.id'], name=op.f('fk_template_overrides_business_id_businesses'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_template_overrides')),
    sa.UniqueConstraint('business_id', 'event', 'channel', 'part', name=op.f('uq_template_overrides_business_id'))
    )
    op.create_table('broadcast_recipients',
    sa.Column('broadcast_id', sa.BigInteger(), nullable=False),
    sa.Column('customer_id', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['broadcast_id'], ['broadcasts.id'], name=op.f('fk_broadcast_recipients_broadcast_id_broadcasts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_broadcast_recipients_customer_id_customers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('broadcast_id', 'customer_id', name=op.f('pk_broadcast_recipients'))
    )
    # Existing rows (if any) get backfilled values before the columns become NOT NULL.
    op.add_column('notification_log', sa.Column('message_key', sa.String(length=240), nullable=True))
    op.add_column('notification_log', sa.Column('provider', sa.String(length=32), nullable=True))
    op.add_column('notification_log', sa.Column('recipient', sa.String(length=32), nullable=True))
    op.execute("UPDATE notification_log SET message_key = left(idempotency_key, 240), recipient = 'customer'")
    op.alter_column('notification_log', 'message_key', nullable=False)
    op.alter_column('notification_log', 'recipient', nullable=False)
    op.add_column('notification_log', sa.Column('reason', sa.String(length=64), nullable=True))
    op.alter_column('notification_log', 'channel',
               existing_type=sa.VARCHAR(length=32),
               nullable=True)
    op.create_index('ix_notification_log_message_key', 'notification_log', ['message_key'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_notification_log_message_key', table_name='notification_log')
    op.execute("DELETE FROM notification_log WHERE channel IS NULL")
    op.alter_column('notification_log', 'channel',
               existing_type=sa.VARCHAR(length=32),
               nullable=False)
    op.drop_column('notification_log', 'reason')
    op.drop_column('notification_log', 'recipient')
    op.drop_column('notification_log', 'provider')
    op.drop_column('notification_log', 'message_key')
    op.drop_table('broadcast_recipients')
    op.drop_table('template_overrides')
    op.drop_index(op.f('ix_broadcasts_business_id'), table_name='broadcasts')
    op.drop_table('broadcasts')
    op.drop_index(op.f('ix_api_keys_business_id'), table_name='api_keys')
    op.drop_table('api_keys')
    op.drop_table('rate_buckets')
