"""the event outbox: one row per event, written with the change it reports

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 16:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0023'
down_revision: str | None = '0022'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'events',
        sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column('business_id', sa.BigInteger(), nullable=False),
        sa.Column('type', sa.String(length=64), nullable=False),
        sa.Column('entity_type', sa.String(length=32), nullable=False),
        sa.Column('entity_id', sa.BigInteger(), nullable=False),
        sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('payload', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            'txid',
            sa.BigInteger(),
            server_default=sa.text('(pg_current_xact_id()::text)::bigint'),
            nullable=False,
            comment="the writing transaction's id: the feed's commit-safe order",
        ),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.ForeignKeyConstraint(
            ['business_id'], ['businesses.id'], name=op.f('fk_events_business_id_businesses'), ondelete='CASCADE'
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_events')),
    )
    op.create_index('ix_events_business_position', 'events', ['business_id', 'txid', 'id'])
    op.create_index('ix_events_created', 'events', ['created_at'])


def downgrade() -> None:
    op.drop_index('ix_events_created', table_name='events')
    op.drop_index('ix_events_business_position', table_name='events')
    op.drop_table('events')
