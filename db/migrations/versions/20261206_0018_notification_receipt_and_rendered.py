"""notification log: the latest receipt status, and the message as rendered for its first send

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 23:58:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        'notification_log',
        sa.Column(
            'receipt_status',
            sa.String(length=32),
            nullable=True,
            comment="the provider's latest status callback for this message (queued, sent, delivered, "
            "undelivered, failed): only sent or delivered confirms an attempt whose answer was lost",
        ),
    )
    op.add_column(
        'notification_log',
        sa.Column(
            'rendered',
            postgresql.JSONB(astext_type=sa.Text()),
            nullable=True,
            comment='the message as rendered before its first send: every resend of this row sends exactly '
            'these bytes (a provider that compares bodies under one idempotency key sees the same one)',
        ),
    )


def downgrade() -> None:
    op.drop_column('notification_log', 'rendered')
    op.drop_column('notification_log', 'receipt_status')
