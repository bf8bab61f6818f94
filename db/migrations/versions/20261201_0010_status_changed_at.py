"""appointments.status_changed_at: when the status last changed (the admin digest's cancellations, no-shows)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 05:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        'appointments',
        sa.Column(
            'status_changed_at',
            sa.DateTime(timezone=True),
            nullable=True,
            comment='when the status last changed (written with the change)',
        ),
    )
    op.create_index(
        'ix_appointments_business_status_changed', 'appointments', ['business_id', 'status_changed_at']
    )
    op.create_index('ix_appointments_business_created', 'appointments', ['business_id', 'created_at'])


def downgrade() -> None:
    op.drop_index('ix_appointments_business_created', table_name='appointments')
    op.drop_index('ix_appointments_business_status_changed', table_name='appointments')
    op.drop_column('appointments', 'status_changed_at')
