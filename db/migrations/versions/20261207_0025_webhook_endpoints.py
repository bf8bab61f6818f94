"""outbound webhooks: endpoints (secrets, cursor), deliveries (one per event and endpoint), attempts (the log)

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0025'
down_revision: str | None = '0024'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TXID = sa.text('(pg_current_xact_id()::text)::bigint')


def upgrade() -> None:
    op.create_table(
        'webhook_endpoints',
        sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column('business_id', sa.BigInteger(), nullable=False),
        sa.Column('url', sa.String(length=2048), nullable=False),
        sa.Column('description', sa.String(length=500), nullable=True),
        sa.Column(
            'event_types',
            postgresql.ARRAY(sa.String(length=64)),
            nullable=True,
            comment='only these types (NULL: every type)',
        ),
        sa.Column('enabled', sa.Boolean(), server_default=sa.text('true'), nullable=False),
        sa.Column('secret', sa.String(length=100), nullable=False),
        sa.Column('previous_secret', sa.String(length=100), nullable=True),
        sa.Column('previous_secret_expires_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            'rotation_key',
            sa.String(length=255),
            nullable=True,
            comment='the Idempotency-Key of the last rotation: its repeat rotates nothing',
        ),
        sa.Column('cursor_txid', sa.BigInteger(), server_default=TXID, nullable=False),
        sa.Column('cursor_id', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
        sa.Column(
            'failing_since',
            sa.DateTime(timezone=True),
            nullable=True,
            comment='the first failed attempt since the last success',
        ),
        sa.Column('disabled_reason', sa.String(length=500), nullable=True),
        sa.Column('created_from', sa.String(length=64), nullable=True, comment='db.repeats: the creating body'),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.ForeignKeyConstraint(
            ['business_id'],
            ['businesses.id'],
            name=op.f('fk_webhook_endpoints_business_id_businesses'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_endpoints')),
        sa.UniqueConstraint('business_id', 'url', name='uq_webhook_endpoints_business_url'),
    )
    op.create_index(
        'ix_webhook_endpoints_enabled', 'webhook_endpoints', ['id'], postgresql_where=sa.text('enabled')
    )
    op.create_table(
        'webhook_deliveries',
        sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column('endpoint_id', sa.BigInteger(), nullable=False),
        sa.Column('event_id', sa.BigInteger(), nullable=False),
        sa.Column('entity_type', sa.String(length=32), nullable=False),
        sa.Column('entity_id', sa.BigInteger(), nullable=False),
        sa.Column('txid', sa.BigInteger(), nullable=False, comment="the event's: the order per entity"),
        sa.Column('state', sa.String(length=16), server_default=sa.text("'pending'"), nullable=False),
        sa.Column('attempts', sa.Integer(), server_default=sa.text('0'), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('first_attempt_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_status', sa.Integer(), nullable=True),
        sa.Column('last_error', sa.String(length=500), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.CheckConstraint(
            "state IN ('pending', 'delivered', 'failed')", name=op.f('ck_webhook_deliveries_known_state')
        ),
        sa.ForeignKeyConstraint(
            ['endpoint_id'],
            ['webhook_endpoints.id'],
            name=op.f('fk_webhook_deliveries_endpoint_id_webhook_endpoints'),
            ondelete='CASCADE',
        ),
        sa.ForeignKeyConstraint(
            ['event_id'], ['events.id'], name=op.f('fk_webhook_deliveries_event_id_events'), ondelete='CASCADE'
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_deliveries')),
        sa.UniqueConstraint('endpoint_id', 'event_id', name='uq_webhook_deliveries_endpoint_event'),
    )
    op.create_index(
        'ix_webhook_deliveries_pending',
        'webhook_deliveries',
        ['endpoint_id', 'txid', 'event_id'],
        postgresql_where=sa.text("state = 'pending'"),
    )
    op.create_index(
        'ix_webhook_deliveries_pending_entity',
        'webhook_deliveries',
        ['endpoint_id', 'entity_type', 'entity_id'],
        postgresql_where=sa.text("state = 'pending'"),
    )
    op.create_table(
        'webhook_attempts',
        sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column('endpoint_id', sa.BigInteger(), nullable=False),
        sa.Column('delivery_id', sa.BigInteger(), nullable=False),
        sa.Column('event_id', sa.BigInteger(), nullable=False),
        sa.Column('attempt', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('status_code', sa.Integer(), nullable=True),
        sa.Column('latency_ms', sa.Integer(), nullable=False),
        sa.Column('error', sa.String(length=500), nullable=True),
        sa.Column('ok', sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ['endpoint_id'],
            ['webhook_endpoints.id'],
            name=op.f('fk_webhook_attempts_endpoint_id_webhook_endpoints'),
            ondelete='CASCADE',
        ),
        sa.ForeignKeyConstraint(
            ['delivery_id'],
            ['webhook_deliveries.id'],
            name=op.f('fk_webhook_attempts_delivery_id_webhook_deliveries'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_attempts')),
    )
    op.create_index('ix_webhook_attempts_endpoint', 'webhook_attempts', ['endpoint_id', 'id'])


def downgrade() -> None:
    op.drop_index('ix_webhook_attempts_endpoint', table_name='webhook_attempts')
    op.drop_table('webhook_attempts')
    op.drop_index('ix_webhook_deliveries_pending_entity', table_name='webhook_deliveries')
    op.drop_index('ix_webhook_deliveries_pending', table_name='webhook_deliveries')
    op.drop_table('webhook_deliveries')
    op.drop_index('ix_webhook_endpoints_enabled', table_name='webhook_endpoints')
    op.drop_table('webhook_endpoints')
