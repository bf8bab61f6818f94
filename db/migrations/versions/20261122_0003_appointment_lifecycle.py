"""appointment lifecycle

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 11:50:00.608080
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('idempotent_requests',
    sa.Column('business_id', sa.BigInteger(), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('resource_id', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['business_id'], ['businesses.id'], name=op.f('fk_idempotent_requests_business_id_businesses'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('business_id', 'key', name=op.f('pk_idempotent_requests'))
    )
    op.create_index(op.f('ix_idempotent_requests_created_at'), 'idempotent_requests', ['created_at'], unique=False)
    op.create_table('appointment_fees',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('appointment_id', sa.BigInteger(), nullable=False),
    sa.Column('business_id', sa.BigInteger(), nullable=False),
    sa.Column('customer_id', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=32), server_default='no_show', nullable=False),
    sa.Column('amount_cents', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), server_default='pending', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['appointment_id'], ['appointments.id'], name=op.f('fk_appointment_fees_appointment_id_appointments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['business_id'], ['businesses.id'], name=op.f('fk_appointment_fees_business_id_businesses'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_appointment_fees_customer_id_customers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_appointment_fees')),
    sa.UniqueConstraint('appointment_id', name=op.f('uq_appointment_fees_appointment_id'))
    )
    op.create_index(op.f('ix_appointment_fees_business_id'), 'appointment_fees', ['business_id'], unique=False)
    op.create_index(op.f('ix_appointment_fees_customer_id'), 'appointment_fees', ['customer_id'], unique=False)
    op.create_table('reviews',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('business_id', sa.BigInteger(), nullable=False),
    sa.Column('customer_id', sa.BigInteger(), nullable=False),
    sa.Column('appointment_id', sa.BigInteger(), nullable=False),
    sa.Column('rating', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('rating BETWEEN 1 AND 5', name=op.f('ck_reviews_rating_range')),
    sa.ForeignKeyConstraint(['appointment_id'], ['appointments.id'], name=op.f('fk_reviews_appointment_id_appointments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['business_id'], ['businesses.id'], name=op.f('fk_reviews_business_id_businesses'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_reviews_customer_id_customers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reviews')),
    sa.UniqueConstraint('appointment_id', name=op.f('uq_reviews_appointment_id'))
    )
    op.create_index('ix_reviews_business_customer', 'reviews', ['business_id', 'customer_id'], unique=False)
    op.add_column('businesses', sa.Column('rating_average', sa.Float(), nullable=True))
    op.add_column('businesses', sa.Column('rating_count', sa.Integer(), server_default='0', nullable=False))
    op.add_column('businesses', sa.Column('rating_distribution', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False))


def downgrade() -> None:
    op.drop_column('businesses', 'rating_distribution')
    op.drop_column('businesses', 'rating_count')
    op.drop_column('businesses', 'rating_average')
    op.drop_index('ix_reviews_business_customer', table_name='reviews')
    op.drop_table('reviews')
    op.drop_index(op.f('ix_appointment_fees_customer_id'), table_name='appointment_fees')
    op.drop_index(op.f('ix_appointment_fees_business_id'), table_name='appointment_fees')
    op.drop_table('appointment_fees')
    op.drop_index(op.f('ix_idempotent_requests_created_at'), table_name='idempotent_requests')
    op.drop_table('idempotent_requests')
