"""events: NOTIFY keeptime_events on insert, so the webhook relay wakes at the commit instead of its next poll

One notification per inserting statement; PostgreSQL delivers it when the transaction commits and folds
identical notifications of one transaction into one (https://www.postgresql.org/docs/current/sql-notify.html).

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07 21:45:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0027'
down_revision: str | None = '0026'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION keeptime_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('keeptime_events', '');
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER events_notify AFTER INSERT ON events "
        "FOR EACH STATEMENT EXECUTE FUNCTION keeptime_events_notify()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER events_notify ON events")
    op.execute("DROP FUNCTION keeptime_events_notify()")
