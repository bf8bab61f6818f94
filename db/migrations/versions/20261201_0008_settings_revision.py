"""settings revision: a counter per business that names each settings change, and the last one rolled out

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 04:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        'businesses',
        sa.Column(
            'settings_revision',
            sa.BigInteger(),
            server_default='1',
            nullable=False,
            comment='bumped by every change of automation, time zone or call config',
        ),
    )
    op.add_column(
        'businesses',
        sa.Column(
            'rolled_out_revision',
            sa.BigInteger(),
            server_default='1',
            nullable=False,
            comment='the last revision whose rollout reached every running workflow',
        ),
    )


def downgrade() -> None:
    op.drop_column('businesses', 'rolled_out_revision')
    op.drop_column('businesses', 'settings_revision')
