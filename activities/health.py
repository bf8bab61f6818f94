"""Database health check: connectivity, table sizes, dead tuples and missing-index hints."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert
from temporalio import activity

from db.engine import SessionFactory
from db.models import HealthCheckRun
from domain.health_types import CheckDatabaseHealthInput, DatabaseHealthReport, TableHealth, table_warnings

_TABLE_STATS = text(
    """
    SELECT relname AS table,
           pg_total_relation_size(relid) AS total_bytes,
           n_live_tup AS live_rows,
           n_dead_tup AS dead_rows,
           coalesce(seq_scan, 0) AS seq_scans,
           coalesce(idx_scan, 0) AS index_scans
      FROM pg_stat_user_tables
     WHERE schemaname = current_schema()
     ORDER BY pg_total_relation_size(relid) DESC
    """
)


class HealthActivities:
    """Holds the session factory the worker built; one method per activity."""

    def __init__(self, session_factory: SessionFactory) -> None:
        self._sessions = session_factory

    @activity.defn
    async def check_database_health(self, request: CheckDatabaseHealthInput) -> DatabaseHealthReport:
        async with self._sessions() as session:
            version = str((await session.execute(text("SHOW server_version"))).scalar_one())
            database_bytes = int(
                (await session.execute(text("SELECT pg_database_size(current_database())"))).scalar_one()
            )
            tables = [TableHealth(**row._mapping) for row in await session.execute(_TABLE_STATS)]
            warnings = table_warnings(tables, request)
            report = {
                "server_version": version,
                "database_bytes": database_bytes,
                "tables": [t.model_dump() for t in tables],
                "warnings": warnings,
            }
            upsert = (
                insert(HealthCheckRun)
                .values(workflow_id=request.run_id, ok=not warnings, report=report)
                .on_conflict_do_update(
                    index_elements=[HealthCheckRun.workflow_id], set_={"ok": not warnings, "report": report}
                )
                .returning(HealthCheckRun.id)
            )
            report_id = int((await session.execute(upsert)).scalar_one())
            await session.commit()
        return DatabaseHealthReport(
            report_id=report_id,
            ok=not warnings,
            server_version=version,
            database_bytes=database_bytes,
            tables=tables,
            warnings=warnings,
        )
