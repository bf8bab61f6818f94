"""Run a batch job's batches in this process (``python -m starter task:*``), with a progress callback.

The scheduled path is ``BatchJobWorkflow`` on Temporal; the management commands run the very same batch
activities directly, one short transaction per batch, so an operator can run a job by hand and watch it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from activities.batch_jobs import BatchJobActivities
from activities.cleanup import CleanupActivities
from db.engine import SessionFactory
from domain.job_types import BatchJobInput, CleanupInput, DeleteBatchInput, JobMetrics

Progress = Callable[[int], object]


async def run_batch_job(sessions: SessionFactory, job: BatchJobInput, progress: Progress) -> JobMetrics:
    """All batches of one ``db/batch_statements.py`` job; ``progress`` gets the rows of each batch."""
    activities = BatchJobActivities(sessions)
    job = job.fixed(datetime.now(UTC))
    metrics, after = JobMetrics(job=job.job), job.after
    while True:
        batch = await activities.run_job_batch(job.batch(after))
        progress(batch.scanned)
        metrics = metrics.plus(batch.scanned, batch.changed, batch.seconds)
        after = batch.last
        if batch.done:
            return metrics


async def run_notification_log_cleanup(
    sessions: SessionFactory, job: CleanupInput, progress: Progress
) -> JobMetrics:
    """Both phases of the notification-log cleanup (delivered, then failed) in this process."""
    activities = CleanupActivities(sessions)
    job = job.fixed(datetime.now(UTC))
    metrics = JobMetrics(job="notification-log-cleanup")
    for status, cutoff in job.cutoffs.items():
        after: tuple[str, int] | None = None
        while True:
            batch = await activities.delete_notification_log_batch(
                DeleteBatchInput(status=status, cutoff=cutoff, after=after, limit=job.batch_size)
            )
            progress(batch.deleted)
            metrics = metrics.plus(batch.deleted, batch.deleted, batch.seconds)
            after = batch.last
            if batch.done:
                break
    return metrics
