"""Every periodic job, declared once, and the sync that makes Temporal's Schedules match the list.

``python -m starter schedules:sync`` (run by ``make run`` and on every deploy) creates missing schedules,
re-applies declared ones (keeping an operator's pause), and deletes ``keeptime-job-*`` schedules no longer
declared. Overlap SKIP (a job never runs twice at once), a catch-up window of one period (a run missed
during an outage happens once when the server is back), jitter where many tenants would start together.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionExecutionStartWorkflow,
    ScheduleActionStartWorkflow,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
    WorkflowExecutionStatus,
    WorkflowFailureError,
)
from temporalio.service import RPCError, RPCStatusCode

from domain.automation import validate_time_zone
from domain.health_types import CheckDatabaseHealthInput
from domain.job_types import (
    BatchJobInput,
    CleanupInput,
    PlatformStatsInput,
    ReconcileInput,
    WeeklyPayrollInput,
)
from domain.project_digest import ProjectDigestRunInput
from domain.staff_notify import StaffNoticesRunInput
from domain.task_queues import MAINTENANCE
from domain.weather import WeatherRunInput
from domain.webhooks import RelayWebhooksInput
from keeptime.settings import JobOverride
from workflows.health_check import DatabaseHealthCheckWorkflow
from workflows.jobs import (
    BatchJobWorkflow,
    NotificationLogCleanupWorkflow,
    PlatformStatsWorkflow,
    ProjectDigestWorkflow,
    ReconcilerWorkflow,
    StaffNoticesWorkflow,
    WeatherWorkflow,
    WeeklyPayrollWorkflow,
)
from workflows.webhooks import WebhookRelayWorkflow

PREFIX = "keeptime-job-"


@dataclass(frozen=True)
class Job:
    name: str
    description: str
    workflow: Callable[..., Awaitable[Any]]
    arg: BaseModel
    cron: str
    period: timedelta
    time_zone: str = "UTC"
    jitter: timedelta = timedelta(0)
    task_queue: str = MAINTENANCE
    # SKIP: a run due while one runs is dropped. BUFFER_ONE (the relay): it starts when that one ends.
    overlap: ScheduleOverlapPolicy = ScheduleOverlapPolicy.SKIP

    @property
    def schedule_id(self) -> str:
        return f"{PREFIX}{self.name}"

    def schedule(self, *, paused: bool = False, note: str | None = None) -> Schedule:
        return Schedule(
            action=ScheduleActionStartWorkflow(
                self.workflow,
                self.arg,
                id=f"job-{self.name}",  # the schedule appends the run's time
                task_queue=self.task_queue,
                # A run never outlives its period (continue-as-new included): overlap SKIP would skip the
                # runs behind it anyway, and a stuck run must not hold its schedule forever.
                execution_timeout=self.period,
                static_summary=self.description,
            ),
            spec=ScheduleSpec(
                cron_expressions=[self.cron], time_zone_name=self.time_zone, jitter=self.jitter
            ),
            policy=SchedulePolicy(overlap=self.overlap, catchup_window=self.period),
            state=ScheduleState(paused=paused, note=note or self.description),
        )


JOBS: Sequence[Job] = (
    Job(
        "reconciler",
        "Restart lost workflows of active appointments, policies and vaccinations (hourly)",
        ReconcilerWorkflow.run,
        ReconcileInput(),
        cron="7 * * * *",
        period=timedelta(hours=1),
        jitter=timedelta(minutes=2),
    ),
    Job(
        "notification-retry-sweep",
        "Retry failed deliveries younger than 24 h with fewer than 3 attempts (hourly)",
        BatchJobWorkflow.run,
        BatchJobInput(job="notification-retry-sweep", older_than_days=1, batch_size=200),
        cron="15 * * * *",
        period=timedelta(hours=1),
        jitter=timedelta(minutes=2),
    ),
    Job(
        "platform-daily-stats",
        "Platform statistics of the previous UTC day (daily 01:00 UTC)",
        PlatformStatsWorkflow.run,
        PlatformStatsInput(),
        cron="0 1 * * *",
        period=timedelta(days=1),
    ),
    Job(
        "business-stats",
        "Per-business totals, completion rate, rating and reviews (daily 01:30 UTC)",
        BatchJobWorkflow.run,
        BatchJobInput(job="business-stats", batch_size=200),
        cron="30 1 * * *",
        period=timedelta(days=1),
    ),
    Job(
        "notification-log-cleanup",
        "Delete delivered notification logs older than 90 days, failed older than 30 (Mondays 02:00 UTC)",
        NotificationLogCleanupWorkflow.run,
        CleanupInput(),
        cron="0 2 * * 1",
        period=timedelta(days=7),
    ),
    Job(
        "appointment-archive",
        "Archive completed and cancelled appointments older than a year (daily 03:00 UTC)",
        BatchJobWorkflow.run,
        BatchJobInput(job="appointment-archive", older_than_days=365),
        cron="0 3 * * *",
        period=timedelta(days=1),
    ),
    Job(
        "call-record-cleanup",
        "Delete finished call records older than 30 days (daily 03:30 UTC)",
        BatchJobWorkflow.run,
        BatchJobInput(job="call-record-cleanup", older_than_days=30),
        cron="30 3 * * *",
        period=timedelta(days=1),
    ),
    Job(
        "event-retention",
        "Delete events of the feed (GET /v1/events) older than 30 days (daily 03:45 UTC)",
        BatchJobWorkflow.run,
        BatchJobInput(job="event-retention", older_than_days=30),
        cron="45 3 * * *",
        period=timedelta(days=1),
    ),
    Job(
        "chat-room-archive",
        "Archive chat rooms without activity for 6 months (monthly, the 1st, 04:00 UTC)",
        BatchJobWorkflow.run,
        BatchJobInput(job="chat-room-archive", older_than_days=183),
        cron="0 4 1 * *",
        period=timedelta(days=28),
    ),
    Job(
        "in-app-notification-archive",
        "Archive in-app notifications read more than 30 days ago (Sundays 02:00 UTC)",
        BatchJobWorkflow.run,
        BatchJobInput(job="in-app-notification-archive", older_than_days=30),
        cron="0 2 * * 0",
        period=timedelta(days=7),
    ),
    Job(
        "inventory-shortage-check",
        "Tell admins and PMs of short inventory items never told (safety net; daily 08:00 UTC)",
        BatchJobWorkflow.run,
        BatchJobInput(job="inventory-shortage-check"),
        cron="0 8 * * *",
        period=timedelta(days=1),
    ),
    Job(
        "touch-up-check",
        "Tell admins and PMs of projects with 3+ open high/urgent touch-ups never told (daily 09:00 UTC)",
        BatchJobWorkflow.run,
        BatchJobInput(job="touch-up-check"),
        cron="0 9 * * *",
        period=timedelta(days=1),
    ),
    Job(
        "weekly-payroll",
        "Each company's pending payroll period for last week, due Monday 07:00 company-local (every 15 min)",
        WeeklyPayrollWorkflow.run,
        WeeklyPayrollInput(),
        cron="*/15 * * * *",
        period=timedelta(minutes=15),
    ),
    Job(
        "weather",
        "Construction sites' weather, today and the next two days, from 05:00 company-local (every 15 min)",
        WeatherWorkflow.run,
        WeatherRunInput(),
        cron="*/15 * * * *",
        period=timedelta(minutes=15),
    ),
    Job(
        "project-digest",
        "Each staff user's weekly project digest by e-mail, Monday 08:00 company-local (every 15 min)",
        ProjectDigestWorkflow.run,
        ProjectDigestRunInput(),
        cron="*/15 * * * *",
        period=timedelta(minutes=15),
    ),
    Job(
        "staff-notices",
        "Staff notifications by e-mail or SMS at once, or in each user's daily digest, by their preferences "
        "(every minute)",
        StaffNoticesWorkflow.run,
        StaffNoticesRunInput(),
        cron="* * * * *",
        period=timedelta(minutes=1),
    ),
    Job(
        "webhook-relay",
        "Deliver the businesses' events to their webhook endpoints (each run relays for a minute; the next "
        "starts as it ends)",
        WebhookRelayWorkflow.run,
        RelayWebhooksInput(),
        cron="* * * * *",
        # a run's timeout: its minute, the drain of its last attempts and the retry of a lost attempt
        period=timedelta(minutes=4),
        overlap=ScheduleOverlapPolicy.BUFFER_ONE,
    ),
    Job(
        "project-archive",
        "Archive construction projects completed more than 90 days ago (daily 04:15 UTC)",
        BatchJobWorkflow.run,
        BatchJobInput(job="project-archive", older_than_days=90),
        cron="15 4 * * *",
        period=timedelta(days=1),
    ),
    Job(
        "database-health-check",
        "Database health check (daily 04:30 UTC)",
        DatabaseHealthCheckWorkflow.run,
        CheckDatabaseHealthInput(run_id="scheduled"),
        cron="30 4 * * *",
        period=timedelta(days=1),
    ),
    Job(
        "reputation-recovery",
        "Customers 90 days without a no-show regain 5 reputation points, up to 100 (Sundays 00:00 UTC)",
        BatchJobWorkflow.run,
        BatchJobInput(job="reputation-recovery", older_than_days=90),
        cron="0 0 * * 0",
        period=timedelta(days=7),
    ),
)


@dataclass
class SyncReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)


async def sync_schedules(client: Client, jobs: Sequence[Job] = JOBS) -> SyncReport:
    """Make the namespace's ``keeptime-job-*`` schedules match ``jobs``. Safe to run any number of times."""
    report = SyncReport()
    for job in jobs:  # by id, not from the (eventually consistent) listing
        try:
            await client.get_schedule_handle(job.schedule_id).update(_keeping_state(job))
            report.updated.append(job.schedule_id)
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
            await client.create_schedule(job.schedule_id, job.schedule())
            report.created.append(job.schedule_id)
    listed = {s.id async for s in await client.list_schedules() if s.id.startswith(PREFIX)}
    for stale in sorted(listed - {job.schedule_id for job in jobs}):
        try:
            await client.get_schedule_handle(stale).delete()
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
            continue  # the listing lags: it was deleted already
        report.deleted.append(stale)
    return report


def _keeping_state(job: Job) -> Callable[[ScheduleUpdateInput], ScheduleUpdate]:
    def update(current: ScheduleUpdateInput) -> ScheduleUpdate:
        state = current.description.schedule.state
        return ScheduleUpdate(schedule=job.schedule(paused=state.paused, note=state.note))

    return update


def configured_jobs(overrides: Mapping[str, JobOverride]) -> list[Job]:
    """``JOBS`` with a deployment's ``JOB_OVERRIDES`` applied (cron, time zone, input fields), validated."""
    unknown = sorted(set(overrides) - {job.name for job in JOBS})
    if unknown:
        raise ValueError(f"JOB_OVERRIDES names unknown jobs {unknown}; known: {[job.name for job in JOBS]}")
    jobs = []
    for job in JOBS:
        change = overrides.get(job.name)
        if change is not None:
            if change.time_zone is not None:
                validate_time_zone(change.time_zone)
            unknown_fields = sorted(set(change.arg) - set(type(job.arg).model_fields))
            if unknown_fields:
                raise ValueError(f"JOB_OVERRIDES: {job.name} has no input fields {unknown_fields}")
            arg = type(job.arg).model_validate({**job.arg.model_dump(), **change.arg})
            job = replace(
                job, cron=change.cron or job.cron, time_zone=change.time_zone or job.time_zone, arg=arg
            )
        jobs.append(job)
    return jobs


def job_named(name: str, jobs: Sequence[Job] = JOBS) -> Job | None:
    return next((job for job in jobs if job.name == name), None)


async def describe_job(client: Client, job: Job) -> dict[str, Any]:
    """A job as operators see it: paused or not, next runs, and the recent runs with their results."""
    try:
        description = await client.get_schedule_handle(job.schedule_id).describe()
    except RPCError:
        return {"name": job.name, "description": job.description, "cron": job.cron, "scheduled": False}
    recent = []
    for action in description.info.recent_actions[-5:]:
        started = action.action
        run: dict[str, Any] = {"at": action.started_at.isoformat()}
        if isinstance(started, ScheduleActionExecutionStartWorkflow):
            run["workflow_id"] = started.workflow_id
            run["result"] = await _result(client, started.workflow_id, started.first_execution_run_id)
        recent.append(run)
    return {
        "name": job.name,
        "description": job.description,
        "cron": job.cron,
        "time_zone": job.time_zone,
        "scheduled": True,
        "paused": description.schedule.state.paused,
        "note": description.schedule.state.note,
        "next_runs": [t.isoformat() for t in description.info.next_action_times[:3]],
        "recent_runs": recent,
    }


async def _result(client: Client, workflow_id: str, run_id: str) -> Any:
    handle = client.get_workflow_handle(workflow_id, run_id=run_id)
    try:
        if (await handle.describe()).status != WorkflowExecutionStatus.COMPLETED:
            return None
        return await handle.result()
    except (RPCError, WorkflowFailureError):
        return None
