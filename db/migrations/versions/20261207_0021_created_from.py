"""repeatable creates: the digest of the body that created the row

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 15:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0021'
down_revision: str | None = '0020'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ('invoices', 'touch_ups', 'staff_users', 'time_entries', 'inventory_items')


def upgrade() -> None:
    for table in TABLES:
        op.add_column(
            table,
            sa.Column(
                'created_from',
                sa.String(64),
                comment='SHA-256 of the create body (db.repeats): a repeat of it answers with this row',
            ),
        )


def downgrade() -> None:
    for table in TABLES:
        op.drop_column(table, 'created_from')
