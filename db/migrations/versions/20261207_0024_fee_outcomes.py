"""no-show fees: paid (with the payment system's reference) or waived, and when

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 16:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0024'
down_revision: str | None = '0023'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('appointment_fees', sa.Column('paid_at', sa.DateTime(timezone=True)))
    op.add_column(
        'appointment_fees',
        sa.Column('payment_reference', sa.String(200), comment="the payment system's id of the charge"),
    )
    op.add_column('appointment_fees', sa.Column('waived_at', sa.DateTime(timezone=True)))
    op.add_column('appointment_fees', sa.Column('waive_reason', sa.String(500)))
    op.add_column(
        'appointment_fees',
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    )


def downgrade() -> None:
    for column in ('updated_at', 'waive_reason', 'waived_at', 'payment_reference', 'paid_at'):
        op.drop_column('appointment_fees', column)
