"""Batch-job workflows started by Temporal Schedules (see keeptime/schedules.py)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.cleanup import CleanupActivities
    from activities.job_types import CleanupInput, DeleteBatchInput, JobMetrics, ReconcileInput
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


@workflow.defn
class NotificationLogCleanupWorkflow:
    """Deletes delivered messages older than 90 days and failed ones older than 30 (defaults), in batches.

    One activity per batch (one short transaction each); continues as new every ``batches_per_run`` batches
    with its keyset position and metrics, so millions of rows never make a large history or a long lock.
    """

    @workflow.run
    async def run(self, job: CleanupInput) -> JobMetrics:
        started = workflow.now()
        if not job.cutoffs:
            job = job.model_copy(
                update={
                    "cutoffs": {
                        "delivered": (started - timedelta(days=job.delivered_older_than_days)).isoformat(),
                        "failed": (started - timedelta(days=job.failed_older_than_days)).isoformat(),
                    }
                }
            )
        metrics = job.metrics or JobMetrics(job="notification-log-cleanup")
        phases = list(job.cutoffs.items())
        phase, after = job.phase, job.after
        for _ in range(job.batches_per_run):
            if phase >= len(phases):
                return metrics
            status, cutoff = phases[phase]
            batch = await workflow.execute_activity_method(
                CleanupActivities.delete_notification_log_batch,
                DeleteBatchInput(status=status, cutoff=cutoff, after=after, limit=job.batch_size),
                task_queue=MAINTENANCE,
                start_to_close_timeout=timedelta(minutes=2),
                summary=f"delete {status} older than {cutoff[:10]}",
            )
            metrics = metrics.model_copy(
                update={
                    "scanned": metrics.scanned + batch.deleted,
                    "changed": metrics.changed + batch.deleted,
                    "duration_s": round(metrics.duration_s + batch.seconds, 3),
                    "longest_transaction_s": max(metrics.longest_transaction_s, batch.seconds),
                }
            )
            phase, after = (phase + 1, None) if batch.done else (phase, batch.last)
        workflow.continue_as_new(job.model_copy(update={"phase": phase, "after": after, "metrics": metrics}))
