"""policies and calls

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 14:00:36.300675
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql
revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('call_scheduler_configs',
    sa.Column('business_id', sa.BigInteger(), nullable=False),
    sa.Column('config', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['business_id'], ['businesses.id'], name=op.f('fk_call_scheduler_configs_business_id_businesses'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('business_id', name=op.f('pk_call_scheduler_configs'))
    )
    op.create_table('policies',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('business_id', sa.BigInteger(), nullable=False),
    sa.Column('customer_id', sa.BigInteger(), nullable=False),
    sa.Column('policy_number', sa.String(length=64), nullable=False),
    sa.Column('product', sa.String(length=120), nullable=True),
    sa.Column('duration_months', sa.Integer(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=False),
    sa.Column('status', sa.Enum('active', 'expired', 'cancelled', name='policy_status', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('term', sa.Integer(), server_default='1', nullable=False),
    sa.Column('call_attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('declined_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('calls_stopped', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('call_not_before', sa.DateTime(timezone=True), nullable=True),
    sa.Column('call_now_requested', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('next_call_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('duration_months BETWEEN 1 AND 120', name=op.f('ck_policies_duration_months_range')),
    sa.ForeignKeyConstraint(['business_id'], ['businesses.id'], name=op.f('fk_policies_business_id_businesses'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_policies_customer_id_customers'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_policies')),
    sa.UniqueConstraint('business_id', 'policy_number', name='uq_policies_business_number')
    )
    op.create_index('ix_policies_business_end', 'policies', ['business_id', 'end_date'], unique=False)
    op.create_index('ix_policies_business_next_call', 'policies', ['business_id', 'next_call_at'], unique=False)
    op.create_table('calls',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('business_id', sa.BigInteger(), nullable=False),
    sa.Column('policy_id', sa.BigInteger(), nullable=False),
    sa.Column('call_key', sa.String(length=200), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('status', sa.Enum('scheduled', 'dialing', 'answered', 'completed', 'no_answer', 'declined', 'failed', 'cancelled', 'skipped', name='call_status', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=True),
    sa.Column('scheduled_for', sa.DateTime(timezone=True), nullable=True),
    sa.Column('local_day', sa.Date(), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('renewal_agreed', sa.Boolean(), nullable=True),
    sa.Column('summary', sa.Text(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['business_id'], ['businesses.id'], name=op.f('fk_calls_business_id_businesses'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['policy_id'], ['policies.id'], name=op.f('fk_calls_policy_id_policies'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calls')),
    sa.UniqueConstraint('call_key', name=op.f('uq_calls_call_key'))
    )
    op.create_index('ix_calls_business_day', 'calls', ['business_id', 'local_day'], unique=False)
    op.create_index('ix_calls_business_status', 'calls', ['business_id', 'status'], unique=False)
    op.create_index('ix_calls_created', 'calls', ['created_at'], unique=False)
    op.create_index('ix_calls_policy_created', 'calls', ['policy_id', 'created_at'], unique=False)
    op.create_index('uq_calls_one_in_flight_per_policy', 'calls', ['policy_id'], unique=True, postgresql_where=sa.text("status IN ('dialing', 'answered')"))


def downgrade() -> None:
    op.drop_index('uq_calls_one_in_flight_per_policy', table_name='calls', postgresql_where=sa.text("status IN ('dialing', 'answered')"))
    op.drop_index('ix_calls_policy_created', table_name='calls')
    op.drop_index('ix_calls_created', table_name='calls')
    op.drop_index('ix_calls_business_status', table_name='calls')
    op.drop_index('ix_calls_business_day', table_name='calls')
    op.drop_table('calls')
    op.drop_index('ix_policies_business_next_call', table_name='policies')
    op.drop_index('ix_policies_business_end', table_name='policies')
    op.drop_table('policies')
    op.drop_table('call_scheduler_configs')
