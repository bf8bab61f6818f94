"""payroll periods: who approved one

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 05:35:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0020'
down_revision: str | None = '0019'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        'payroll_periods',
        sa.Column(
            'approved_by',
            sa.BigInteger(),
            sa.ForeignKey('staff_users.id', ondelete='SET NULL'),
            comment='the staff user (an admin or accounting) who approved it',
        ),
    )


def downgrade() -> None:
    op.drop_column('payroll_periods', 'approved_by')
