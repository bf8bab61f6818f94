"""customer preferences by category

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 02:55:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        'customers',
        sa.Column(
            'preferences',
            postgresql.JSONB(astext_type=sa.Text()),
            server_default='{}',
            nullable=False,
            comment='categories turned off, e.g. {reminders: false}',
        ),
    )


def downgrade() -> None:
    op.drop_column('customers', 'preferences')
