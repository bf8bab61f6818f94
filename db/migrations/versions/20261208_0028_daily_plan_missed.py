"""daily_plans.missed_at: when the deadline passed with the plan a draft (``daily_plan.missed`` is written once)

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-08 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0028'
down_revision: str | None = '0027'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("daily_plans", sa.Column(
            "missed_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="the deadline passed with the plan a draft (daily_plan.missed)",
        ),)


def downgrade() -> None:
    op.drop_column("daily_plans", "missed_at")
