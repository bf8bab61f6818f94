"""Batch-job workflows started by Temporal Schedules (see services/schedules.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.batch_jobs import BatchJobActivities
    from activities.cleanup import CleanupActivities
    from activities.notifications import NotificationActivities
    from activities.payroll import PayrollActivities
    from activities.project_digest import ProjectDigestActivities
    from activities.reconciler import ReconcilerActivities
    from activities.staff_notices import StaffNoticeActivities
    from activities.weather import WeatherActivities
    from domain.ids import staff_message_workflow_id
    from domain.job_types import (
        BatchJobInput,
        CleanupInput,
        DeleteBatchInput,
        JobMetrics,
        PlatformStatsInput,
        PlatformStatsResult,
        ReconcileInput,
        WeeklyPayrollInput,
    )
    from domain.notification_types import NotificationRequest, SendNotificationInput
    from domain.project_digest import ProjectDigestRunInput
    from domain.staff_notify import StaffNoticesRunInput
    from domain.task_queues import MAINTENANCE, NOTIFICATIONS
    from domain.weather import WeatherRunInput
    from workflows.delivery import send_now
    from workflows.notification import NotificationWorkflow

Arg = TypeVar("Arg")
Result = TypeVar("Result")
# Bounded: a batch that fails five times (about 75 s) is a poison batch, not an outage worth waiting out
# forever. The run then ends with the failure in its result, so its schedule (overlap SKIP) runs again on
# time and retries it, instead of skipping every later run behind one that never ends.
JOB_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=5,
)


async def _batch(
    method: Callable[[Any, Arg], Awaitable[Result]],
    arg: Arg,
    summary: str,
    *,
    start_to_close: timedelta = timedelta(minutes=5),
    heartbeat: timedelta | None = None,
) -> Result:
    return await workflow.execute_activity_method(
        method,
        arg,
        task_queue=MAINTENANCE,
        start_to_close_timeout=start_to_close,
        heartbeat_timeout=heartbeat,
        retry_policy=JOB_RETRY,
        summary=summary,
    )


async def _one_batch(
    job: str,
    method: Callable[[Any, Arg], Awaitable[JobMetrics]],
    arg: Arg,
    summary: str,
    *,
    start_to_close: timedelta,
    heartbeat: timedelta,
) -> JobMetrics:
    """A job that is one activity: its metrics, or the failure in them (reported, not raised)."""
    try:
        return await _batch(method, arg, summary, start_to_close=start_to_close, heartbeat=heartbeat)
    except ActivityError as error:
        return JobMetrics(job=job).failed(summary, error)


@workflow.defn
class ReconcilerWorkflow:
    """Restarts the workflow of every active appointment, policy and vaccination that has lost it."""

    @workflow.run
    async def run(self, request: ReconcileInput) -> JobMetrics:
        return await _one_batch(
            "reconciler",
            ReconcilerActivities.reconcile_workflows,
            request,
            "reconcile appointments, policies, vaccinations",
            start_to_close=timedelta(minutes=30),
            heartbeat=timedelta(minutes=2),
        )


@workflow.defn
class NotificationLogCleanupWorkflow:
    """Deletes delivered messages older than 90 days and failed ones older than 30 (defaults), in batches.

    One activity per batch (one short transaction each); continues as new every ``batches_per_run`` batches
    with its keyset position and metrics, so millions of rows never make a large history or a long lock.
    """

    @workflow.init
    def __init__(self, job: CleanupInput) -> None:
        self._metrics = job.metrics or JobMetrics(job="notification-log-cleanup")

    @workflow.query
    def progress(self) -> JobMetrics:
        """The metrics so far, carried across continue-as-new (the ``task:*`` commands show them)."""
        return self._metrics

    @workflow.run
    async def run(self, job: CleanupInput) -> JobMetrics:
        job = job.fixed(workflow.now())
        metrics = self._metrics
        phases = list(job.cutoffs.items())
        phase, after = job.phase, job.after
        for _ in range(job.batches_per_run):
            if phase >= len(phases):
                return metrics
            status, cutoff = phases[phase]
            try:
                batch = await _batch(
                    CleanupActivities.delete_notification_log_batch,
                    DeleteBatchInput(status=status, cutoff=cutoff, after=after, limit=job.batch_size),
                    f"delete {status} older than {cutoff[:10]}",
                    start_to_close=timedelta(minutes=2),
                )
            except ActivityError as error:
                return metrics.failed(f"{status} rows after {after}", error)
            metrics = self._metrics = metrics.plus(batch.deleted, batch.deleted, batch.seconds)
            phase, after = (phase + 1, None) if batch.done else (phase, batch.last)
        workflow.continue_as_new(job.model_copy(update={"phase": phase, "after": after, "metrics": metrics}))


@workflow.defn
class BatchJobWorkflow:
    """Walks one job's rows in id order, one activity (one short transaction) per batch of ``batch_size``.

    The cut-off is fixed at the first run (``older_than_days`` before it); every ``batches_per_run`` batches
    it continues as new with its position and metrics. Jobs: see ``db/batch_statements.py`` and
    ``notification-retry-sweep`` (through the idempotent delivery layer)."""

    @workflow.init
    def __init__(self, job: BatchJobInput) -> None:
        self._metrics = job.metrics or JobMetrics(job=job.job)

    @workflow.query
    def progress(self) -> JobMetrics:
        """The metrics so far, carried across continue-as-new (the ``task:*`` commands show them)."""
        return self._metrics

    @workflow.run
    async def run(self, job: BatchJobInput) -> JobMetrics:
        job = job.fixed(workflow.now())
        metrics = self._metrics
        after = job.after
        method = (
            NotificationActivities.retry_failed_batch
            if job.job == "notification-retry-sweep"
            else BatchJobActivities.run_job_batch
        )
        for _ in range(job.batches_per_run):
            try:
                batch = await _batch(
                    method,
                    job.batch(after),
                    f"{job.job} after id {after}",
                    heartbeat=timedelta(minutes=2),  # the sweep beats per row; a batch statement is short
                )
            except ActivityError as error:
                return metrics.failed(f"batch after id {after}", error)
            metrics = self._metrics = metrics.plus(
                batch.scanned, batch.changed, batch.seconds, batch.errors, batch.details
            )
            after = batch.last
            if batch.done:
                return metrics
        workflow.continue_as_new(job.model_copy(update={"after": after, "metrics": metrics}))


@workflow.defn
class PlatformStatsWorkflow:
    """Computes and stores the platform's figures of one UTC day (default: the day before the run)."""

    @workflow.run
    async def run(self, request: PlatformStatsInput) -> PlatformStatsResult:
        day = request.day or (workflow.now() - timedelta(days=1)).date().isoformat()
        return await _batch(
            BatchJobActivities.compute_platform_stats,
            PlatformStatsInput(day=day),
            f"platform statistics of {day}",
            start_to_close=timedelta(seconds=30),
        )


@workflow.defn
class WeeklyPayrollWorkflow:
    """Creates each company's pending payroll period for its latest due Monday-Sunday week (due Monday
    07:00 company-local). Runs every 15 minutes: a company's week is made within 15 minutes of its Monday
    07:00, exactly once (the period is UNIQUE per company and week), and after an outage by the next run."""

    @workflow.run
    async def run(self, request: WeeklyPayrollInput) -> JobMetrics:
        return await _one_batch(
            "weekly-payroll",
            PayrollActivities.create_due_payrolls,
            WeeklyPayrollInput(at=request.at or workflow.now()),
            "weekly payroll periods due",
            start_to_close=timedelta(minutes=10),
            heartbeat=timedelta(minutes=2),
        )


@workflow.defn
class WeatherWorkflow:
    """Fetches the construction sites' weather of every zone whose 05:00 local has come today (each zone-day
    once; one with failed fetches again by the next runs, a bounded number of times). Runs every 15 minutes
    on its own schedule: a failing weather API fails fetches in this run's result, never another job."""

    @workflow.run
    async def run(self, request: WeatherRunInput) -> JobMetrics:
        return await _one_batch(
            "weather",
            WeatherActivities.refresh_due_weather,
            WeatherRunInput(at=request.at or workflow.now()),
            "site weather of the zones due",
            start_to_close=timedelta(minutes=14),
            heartbeat=timedelta(minutes=2),
        )


SENDS_AT_ONCE = 20


@workflow.defn
class ProjectDigestWorkflow:
    """Sends each staff user's weekly project digest (Monday 08:00 company-local) through the idempotent
    delivery: its key (user, event, week's instant, channel) makes it once however often the job runs; a
    digest already logged (sent, skipped, failing) is not asked for again. Every 15 minutes, up to
    ``batch_size`` digests a run."""

    @workflow.run
    async def run(self, request: ProjectDigestRunInput) -> JobMetrics:
        metrics = JobMetrics(job="project-digest")
        try:
            due = await _batch(
                ProjectDigestActivities.due_project_digests,
                request.model_copy(update={"at": request.at or workflow.now()}),
                "weekly project digests due",
                start_to_close=timedelta(minutes=2),
            )
        except ActivityError as error:
            return metrics.failed("list due digests", error)
        counts: dict[str, int] = {}
        for start in range(0, len(due), SENDS_AT_ONCE):
            results = await asyncio.gather(*(send_now(r) for r in due[start : start + SENDS_AT_ONCE]))
            for result in results:
                counts[result.status] = counts.get(result.status, 0) + 1
        failed = counts.get("failed", 0)
        details = [f"{status}: {count}" for status, count in sorted(counts.items())]
        return metrics.plus(len(due), counts.get("sent", 0), 0.0, failed, details).model_copy(
            update={"counts": counts}
        )


@workflow.defn
class StaffNoticesWorkflow:
    """Relays staff notifications beyond the app (db.staff_notices): decides the new ones by their users'
    preferences, then starts one NotificationWorkflow per message still to go (a notification at once, or a
    user's digest whose instant has come), each the same claimed delivery as a customer's message. Each
    message's workflow id is its key, so a run never starts a second while one runs, and the message's
    workflow outlives this run (abandoned, not cancelled): slow providers and retries never make the job
    late. Every minute, up to ``batch_size`` a run."""

    @workflow.run
    async def run(self, request: StaffNoticesRunInput) -> JobMetrics:
        metrics = JobMetrics(job="staff-notices")
        try:
            due = await _batch(
                StaffNoticeActivities.due_staff_notices,
                request.model_copy(update={"at": request.at or workflow.now()}),
                "staff notifications to deliver",
                start_to_close=timedelta(minutes=1),
            )
        except ActivityError as error:
            return metrics.failed("list staff notifications", error)
        outcomes = await asyncio.gather(*(_start_message(r) for r in due))
        started = sum(outcomes)
        details = [f"started: {started}", f"already running: {len(due) - started}"]
        return metrics.plus(len(due), started, 0.0, 0, details)


async def _start_message(request: NotificationRequest) -> bool:
    """Start the message's own workflow; False: it runs already (an earlier run started it)."""
    try:
        await workflow.start_child_workflow(
            NotificationWorkflow.run,
            SendNotificationInput(request=request),
            id=staff_message_workflow_id(request.message_key()),
            task_queue=NOTIFICATIONS,
            parent_close_policy=ParentClosePolicy.ABANDON,
            static_summary=f"{request.event_name} for {request.entity_type} {request.entity_id}",
        )
    except WorkflowAlreadyStartedError:
        return False
    return True
