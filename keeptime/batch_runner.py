"""Run a batch job's batches in this process (``python -m starter task:*``), with a progress callback.

The scheduled path is ``BatchJobWorkflow`` on Temporal; the management commands run the very same batch
activities directly, one short transaction per batch, so an operator can run a job by hand and watch it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from activities.batch_jobs import BatchJobActivities
from activities.cleanup import CleanupActivities
from activities.job_types import BatchJobInput, DeleteBatchInput, JobBatchInput, JobMetrics
from db.engine import SessionFactory

Progress = Callable[[int], object]


async def run_batch_job(sessions: SessionFactory, job: BatchJobInput, progress: Progress) -> JobMetrics:
    """All batches of one ``db/batch_statements.py`` job; ``progress`` gets the rows of each batch."""
    activities = BatchJobActivities(sessions)
    now = datetime.now(UTC)
    metrics, after = JobMetrics(job=job.job), 0
    while True:
        batch = await activities.run_job_batch(
            JobBatchInput(
                job=job.job,
                cutoff=(now - timedelta(days=job.older_than_days)).isoformat(),
                now=now.isoformat(),
                after=after,
                limit=job.batch_size,
                points=job.points,
                cap=job.cap,
            )
        )
        progress(batch.scanned)
        metrics = metrics.plus(batch.scanned, batch.changed, batch.seconds)
        after = batch.last
        if batch.done:
            return metrics


async def run_notification_log_cleanup(
    sessions: SessionFactory,
    delivered_days: int,
    failed_days: int,
    progress: Progress,
    batch_size: int = 5_000,
) -> JobMetrics:
    activities = CleanupActivities(sessions)
    now = datetime.now(UTC)
    metrics = JobMetrics(job="notification-log-cleanup")
    for status, days in (("delivered", delivered_days), ("failed", failed_days)):
        after: tuple[str, int] | None = None
        while True:
            cutoff = (now - timedelta(days=days)).isoformat()
            batch = await activities.delete_notification_log_batch(
                DeleteBatchInput(status=status, cutoff=cutoff, after=after, limit=batch_size)
            )
            progress(batch.deleted)
            metrics = metrics.plus(batch.deleted, batch.deleted, batch.seconds)
            after = batch.last
            if batch.done:
                break
    return metrics
