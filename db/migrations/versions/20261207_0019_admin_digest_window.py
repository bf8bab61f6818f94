"""businesses: the admin digest's window runs from the last digest reported, and ends with the digest mode

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 04:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0019'
down_revision: str | None = '0018'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SINCE = (
    "where the next admin digest's window starts: the end of the last one reported, or when digest mode "
    "began (null: the day before the digest, as before this column)"
)
LEFT = "when the business last left digest mode: the end of the final digest's window"


def upgrade() -> None:
    op.add_column('businesses', sa.Column('digest_since', sa.DateTime(timezone=True), comment=SINCE))
    op.add_column('businesses', sa.Column('digest_left_at', sa.DateTime(timezone=True), comment=LEFT))


def downgrade() -> None:
    op.drop_column('businesses', 'digest_left_at')
    op.drop_column('businesses', 'digest_since')
