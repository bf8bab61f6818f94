"""external ids and metadata: the business's own id (unique per business and table) and a bounded JSON
object on customers, appointments, policies, invoices and projects

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07 21:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0026'
down_revision: str | None = '0025'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ('customers', 'appointments', 'policies', 'invoices', 'projects')


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column('external_id', sa.String(255), comment="the business's own id"))
        op.add_column(table, sa.Column('metadata', postgresql.JSONB(astext_type=sa.Text())))
        op.create_index(
            f'uq_{table}_business_external_id',
            table,
            ['business_id', 'external_id'],
            unique=True,
            postgresql_where=sa.text('external_id IS NOT NULL'),
        )


def downgrade() -> None:
    for table in TABLES:
        op.drop_index(f'uq_{table}_business_external_id', table_name=table)
        op.drop_column(table, 'metadata')
        op.drop_column(table, 'external_id')
