"""notification_log: an attempt in flight (request possibly sent, outcome unknown) and how it was resolved

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 04:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        'notification_log',
        sa.Column(
            'in_flight_since',
            sa.DateTime(timezone=True),
            nullable=True,
            comment='set before the provider is called, cleared when its answer is known: set on a retry '
            'means the last attempt is ambiguous (it may have reached the provider)',
        ),
    )
    op.add_column(
        'notification_log',
        sa.Column(
            'resolution',
            sa.String(length=160),
            nullable=True,
            comment='how an ambiguous attempt was resolved, e.g. "ambiguous -> confirmed sent by receipt"',
        ),
    )


def downgrade() -> None:
    op.drop_column('notification_log', 'resolution')
    op.drop_column('notification_log', 'in_flight_since')
