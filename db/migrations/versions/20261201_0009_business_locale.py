"""business locale: the language messages fall back to when a customer's has no catalog

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 04:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        'businesses',
        sa.Column(
            'locale',
            sa.String(length=16),
            server_default='en',
            nullable=False,
            comment="messages fall back to it (a locale with a catalog: en, de, es, de_AT ...)",
        ),
    )


def downgrade() -> None:
    op.drop_column('businesses', 'locale')
