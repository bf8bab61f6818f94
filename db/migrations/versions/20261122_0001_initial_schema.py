"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-22 11:20:24.881280
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('businesses',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('time_zone', sa.String(length=64), nullable=False),
    sa.Column('admin_email', sa.String(length=320), nullable=True),
    sa.Column('automation', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_businesses'))
    )
    op.create_table('health_check_runs',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('workflow_id', sa.String(length=255), nullable=False),
    sa.Column('ok', sa.Boolean(), nullable=False),
    sa.Column('report', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_health_check_runs')),
    sa.UniqueConstraint('workflow_id', name=op.f('uq_health_check_runs_workflow_id'))
    )
    op.create_index(op.f('ix_health_check_runs_created_at'), 'health_check_runs', ['created_at'], unique=False)
    op.create_table('customers',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('business_id', sa.BigInteger(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('phone', sa.String(length=32), nullable=True),
    sa.Column('push_token', sa.String(length=512), nullable=True),
    sa.Column('time_zone', sa.String(length=64), nullable=True),
    sa.Column('locale', sa.String(length=16), server_default='en', nullable=False),
    sa.Column('channel_order', postgresql.ARRAY(sa.String(length=16)), server_default='{push,sms,email}', nullable=False),
    sa.Column('email_opted_in', sa.Boolean(), server_default='true', nullable=False),
    sa.Column('sms_opted_in', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('push_opted_in', sa.Boolean(), server_default='true', nullable=False),
    sa.Column('reputation_score', sa.Integer(), server_default='100', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['business_id'], ['businesses.id'], name=op.f('fk_customers_business_id_businesses'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customers'))
    )
    op.create_index('ix_customers_business_created', 'customers', ['business_id', 'created_at'], unique=False)
    op.create_index(op.f('ix_customers_phone'), 'customers', ['phone'], unique=False)
    op.create_table('appointments',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('business_id', sa.BigInteger(), nullable=False),
    sa.Column('customer_id', sa.BigInteger(), nullable=False),
    sa.Column('resource', sa.String(length=120), nullable=True),
    sa.Column('service', sa.String(length=200), nullable=True),
    sa.Column('status', sa.Enum('pending', 'confirmed', 'checked_in', 'completed', 'cancelled', 'no_show', name='appointment_status', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('cancel_reason', sa.Text(), nullable=True),
    sa.Column('cancelled_by', sa.String(length=64), nullable=True),
    sa.Column('checked_in_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('archived_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_appointments_ends_after_starts')),
    sa.CheckConstraint('version >= 1', name=op.f('ck_appointments_version_positive')),
    sa.ForeignKeyConstraint(['business_id'], ['businesses.id'], name=op.f('fk_appointments_business_id_businesses'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_appointments_customer_id_customers'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_appointments'))
    )
    op.create_index('ix_appointments_business_starts', 'appointments', ['business_id', 'starts_at'], unique=False)
    op.create_index('ix_appointments_customer_starts', 'appointments', ['customer_id', 'starts_at'], unique=False)
    op.create_index('ix_appointments_resource_starts', 'appointments', ['business_id', 'resource', 'starts_at'], unique=False)
    op.create_index('ix_appointments_status_updated', 'appointments', ['status', 'updated_at'], unique=False)
    op.create_table('notification_log',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('idempotency_key', sa.String(length=255), nullable=False),
    sa.Column('business_id', sa.BigInteger(), nullable=False),
    sa.Column('customer_id', sa.BigInteger(), nullable=True),
    sa.Column('entity_type', sa.String(length=32), nullable=False),
    sa.Column('entity_id', sa.BigInteger(), nullable=False),
    sa.Column('event', sa.String(length=64), nullable=False),
    sa.Column('channel', sa.Enum('email', 'sms', 'push', 'console', name='notification_channel', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('scheduled_for', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sa.Enum('queued', 'sent', 'delivered', 'failed', 'skipped', name='notification_status', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('provider_message_id', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('attempts >= 0', name=op.f('ck_notification_log_attempts_non_negative')),
    sa.ForeignKeyConstraint(['business_id'], ['businesses.id'], name=op.f('fk_notification_log_business_id_businesses'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_notification_log_customer_id_customers'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_log')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_notification_log_idempotency_key'))
    )
    op.create_index('ix_notification_log_business_created', 'notification_log', ['business_id', 'created_at'], unique=False)
    op.create_index('ix_notification_log_entity', 'notification_log', ['entity_type', 'entity_id', 'created_at'], unique=False)
    op.create_index('ix_notification_log_provider_message', 'notification_log', ['provider_message_id'], unique=False)
    op.create_index('ix_notification_log_status_updated', 'notification_log', ['status', 'updated_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_notification_log_status_updated', table_name='notification_log')
    op.drop_index('ix_notification_log_provider_message', table_name='notification_log')
    op.drop_index('ix_notification_log_entity', table_name='notification_log')
    op.drop_index('ix_notification_log_business_created', table_name='notification_log')
    op.drop_table('notification_log')
    op.drop_index('ix_appointments_status_updated', table_name='appointments')
    op.drop_index('ix_appointments_resource_starts', table_name='appointments')
    op.drop_index('ix_appointments_customer_starts', table_name='appointments')
    op.drop_index('ix_appointments_business_starts', table_name='appointments')
    op.drop_table('appointments')
    op.drop_index(op.f('ix_customers_phone'), table_name='customers')
    op.drop_index('ix_customers_business_created', table_name='customers')
    op.drop_table('customers')
    op.drop_index(op.f('ix_health_check_runs_created_at'), table_name='health_check_runs')
    op.drop_table('health_check_runs')
    op.drop_table('businesses')
