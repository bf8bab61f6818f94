"""batch job tables

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 14:13:05.338492
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql
revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('platform_daily_stats',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('appointments_by_status', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('new_customers', sa.Integer(), nullable=False),
    sa.Column('active_businesses', sa.Integer(), nullable=False),
    sa.Column('reviews', sa.Integer(), nullable=False),
    sa.Column('average_rating', sa.Float(), nullable=True),
    sa.Column('computed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('day', name=op.f('pk_platform_daily_stats'))
    )
    op.create_table('business_stats',
    sa.Column('business_id', sa.BigInteger(), nullable=False),
    sa.Column('total_appointments', sa.Integer(), nullable=False),
    sa.Column('completed', sa.Integer(), nullable=False),
    sa.Column('no_shows', sa.Integer(), nullable=False),
    sa.Column('cancelled', sa.Integer(), nullable=False),
    sa.Column('completion_rate', sa.Float(), nullable=True),
    sa.Column('average_rating', sa.Float(), nullable=True),
    sa.Column('review_count', sa.Integer(), nullable=False),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['business_id'], ['businesses.id'], name=op.f('fk_business_stats_business_id_businesses'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('business_id', name=op.f('pk_business_stats'))
    )
    op.create_table('chat_rooms',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('business_id', sa.BigInteger(), nullable=False),
    sa.Column('customer_id', sa.BigInteger(), nullable=True),
    sa.Column('subject', sa.String(length=200), nullable=True),
    sa.Column('last_activity_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('archived_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['business_id'], ['businesses.id'], name=op.f('fk_chat_rooms_business_id_businesses'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_chat_rooms_customer_id_customers'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_chat_rooms'))
    )
    op.create_index('ix_chat_rooms_activity', 'chat_rooms', ['last_activity_at'], unique=False)
    op.add_column('customers', sa.Column('reputation_recovered_at', sa.DateTime(timezone=True), nullable=True, comment="last reputation recovery (the weekly job's idempotency marker)"))
    op.add_column('notification_log', sa.Column('request', postgresql.JSONB(astext_type=sa.Text()), nullable=True, comment='the NotificationRequest (ids only), so the retry sweep can deliver it again'))


def downgrade() -> None:
    op.drop_column('notification_log', 'request')
    op.drop_column('customers', 'reputation_recovered_at')
    op.drop_index('ix_chat_rooms_activity', table_name='chat_rooms')
    op.drop_table('chat_rooms')
    op.drop_table('business_stats')
    op.drop_table('platform_daily_stats')
