"""DatabaseHealthCheckWorkflow: runs the health check activity and returns its report."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.health import HealthActivities
    from domain.health_types import CheckDatabaseHealthInput, DatabaseHealthReport


@workflow.defn
class DatabaseHealthCheckWorkflow:
    """On-demand (and later scheduled) database health check; the report is stored for operators."""

    @workflow.run
    async def run(self, request: CheckDatabaseHealthInput) -> DatabaseHealthReport:
        return await workflow.execute_activity_method(
            HealthActivities.check_database_health,
            request,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(maximum_attempts=3),
            summary="check database health",
        )
