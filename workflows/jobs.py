"""Batch-job workflows started by Temporal Schedules (see keeptime/schedules.py)."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.job_types import JobMetrics, ReconcileInput
    from activities.reconciler import ReconcilerActivities
    from workflows.db_calls import call_db
    from workflows.task_queues import MAINTENANCE


@workflow.defn
class AppointmentReconcilerWorkflow:
    """Finds active appointments whose workflow is missing and starts it; returns what it fixed."""

    @workflow.run
    async def run(self, request: ReconcileInput) -> JobMetrics:
        return await call_db(
            ReconcilerActivities.reconcile_appointments, request, "reconcile appointments", queue=MAINTENANCE
        )
