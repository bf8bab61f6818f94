"""Client-side Temporal calls shared by the API and the starter commands."""

from __future__ import annotations

from datetime import UTC, datetime

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy

from domain.health_types import CheckDatabaseHealthInput, DatabaseHealthReport
from domain.ids import health_check_workflow_id
from domain.task_queues import MAINTENANCE
from workflows.health_check import DatabaseHealthCheckWorkflow


async def run_database_health_check(client: Client, *, origin: str) -> tuple[str, DatabaseHealthReport]:
    """Run the health check workflow to completion; returns its workflow id and report."""
    workflow_id = health_check_workflow_id(datetime.now(UTC))
    report = await client.execute_workflow(
        DatabaseHealthCheckWorkflow.run,
        CheckDatabaseHealthInput(run_id=workflow_id),
        id=workflow_id,
        task_queue=MAINTENANCE,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        static_summary=f"Database health check ({origin})",
    )
    return workflow_id, report
