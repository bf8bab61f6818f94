"""staff notifications by e-mail and SMS: the user's phone and preferences, each notification's decision

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0022'
down_revision: str | None = '0021'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        'staff_users', sa.Column('phone', sa.String(20), comment='E.164: staff notifications by SMS')
    )
    op.add_column(
        'staff_users',
        sa.Column(
            'notify',
            postgresql.JSONB(astext_type=sa.Text()),
            server_default='{}',
            nullable=False,
            comment='delivery preferences (domain.staff_notify.StaffNotifyPrefs)',
        ),
    )
    op.add_column(
        'in_app_notifications',
        sa.Column(
            'delivery',
            sa.String(16),
            comment='decided by the staff-notices job: immediate, digest, in_app or muted',
        ),
    )
    op.add_column(
        'in_app_notifications',
        sa.Column(
            'digest_at',
            sa.DateTime(timezone=True),
            comment='delivery digest: the digest instant it goes into',
        ),
    )
    op.add_column(
        'in_app_notifications',
        sa.Column(
            'relayed_at',
            sa.DateTime(timezone=True),
            comment='when nothing was left to do (its message or digest is logged)',
        ),
    )
    # Before this revision staff notifications were in-app only: the job must not e-mail the past.
    op.execute("UPDATE in_app_notifications SET delivery = 'in_app', relayed_at = created_at")
    op.create_index(
        'ix_in_app_notifications_undecided',
        'in_app_notifications',
        ['id'],
        postgresql_where=sa.text('delivery IS NULL'),
    )
    op.create_index(
        'ix_in_app_notifications_unrelayed',
        'in_app_notifications',
        ['delivery', 'id'],
        postgresql_where=sa.text("relayed_at IS NULL AND delivery IN ('immediate', 'digest')"),
    )
    op.create_index(
        'ix_in_app_notifications_user_digest', 'in_app_notifications', ['user_id', 'digest_at']
    )


def downgrade() -> None:
    op.drop_index('ix_in_app_notifications_user_digest', table_name='in_app_notifications')
    op.drop_index('ix_in_app_notifications_unrelayed', table_name='in_app_notifications')
    op.drop_index('ix_in_app_notifications_undecided', table_name='in_app_notifications')
    for column in ('relayed_at', 'digest_at', 'delivery'):
        op.drop_column('in_app_notifications', column)
    op.drop_column('staff_users', 'notify')
    op.drop_column('staff_users', 'phone')
