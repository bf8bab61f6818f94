"""The predecessor's management commands, on Keeptime: ``task:send-reminders``, ``task:cleanup``,
``task:stats`` (and ``task:reconcile``, ``task:retry-notifications``). Each prints what it did and shows a
progress bar (rows so far and rate) on stderr while it works."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel
from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.service import RPCError
from tqdm import tqdm

from db.engine import SessionFactory, create_engine, create_session_factory
from domain.job_types import BatchJobInput, CleanupInput, JobMetrics, PlatformStatsInput
from domain.task_queues import MAINTENANCE
from keeptime.settings import get_settings
from workflows.jobs import BatchJobWorkflow, NotificationLogCleanupWorkflow, PlatformStatsWorkflow

JobInput = TypeVar("JobInput", BatchJobInput, CleanupInput)


@asynccontextmanager
async def _sessions() -> AsyncIterator[SessionFactory]:
    engine = create_engine(get_settings().require_database_url(), pool_size=2)
    try:
        yield create_session_factory(engine)
    finally:
        await engine.dispose()


def _bar(description: str) -> tqdm[Any]:
    return tqdm(desc=description, unit=" rows", file=sys.stderr, dynamic_ncols=True)


def _declared(name: str, kind: type[JobInput], **given: int | None) -> JobInput:
    """The input job ``name`` is scheduled with here (``JOB_OVERRIDES`` applied), with the command line's
    values where given."""
    from services.schedules import configured_jobs, job_named

    job = job_named(name, configured_jobs(get_settings().job_overrides))
    assert job is not None and isinstance(job.arg, kind), name
    return job.arg.model_copy(update={k: v for k, v in given.items() if v is not None})


# The command line's day options of the archive jobs (the others run as scheduled).
CLEANUP_FLAGS = {
    "appointment-archive": "appointment_days",
    "chat-room-archive": "chat_room_days",
    "call-record-cleanup": "call_days",
}


def cleanup_jobs() -> list[str]:
    """Every declared archive and cleanup batch job, in their declared order: a job added later is run by
    ``task:cleanup`` without anyone remembering to list it (the log cleanup has its own workflow)."""
    from services.schedules import JOBS

    return [
        job.name
        for job in JOBS
        if job.name.endswith(("-archive", "-cleanup")) and job.name != "notification-log-cleanup"
    ]


def _print(metrics: JobMetrics) -> None:
    print(json.dumps(metrics.model_dump(mode="json")))


async def send_reminders(_: argparse.Namespace) -> int:
    """Reminders are sent by each appointment's workflow at its moment; what an operator can do by hand is
    make sure every active appointment (and policy, vaccination) has its workflow running: the reconciler."""
    from activities.reconciler import reconcile_workflows

    client = await _client()
    async with _sessions() as sessions:
        with _bar("checking workflows") as bar:
            report = await reconcile_workflows(sessions, client, progress=bar.update)
    print(f"checked {report.scanned} active row(s); started {len(report.started)} workflow(s)")
    for workflow_id in report.started:
        print(f"  started {workflow_id}")
    return 0


async def cleanup(args: argparse.Namespace) -> int:
    """Every cleanup and archive job now: their own workflows, on the running stack's worker."""
    log_cleanup = _declared(
        "notification-log-cleanup",
        CleanupInput,
        delivered_older_than_days=args.delivered_days,
        failed_older_than_days=args.failed_days,
    )
    archives = [
        _declared(name, BatchJobInput, older_than_days=getattr(args, CLEANUP_FLAGS.get(name, ""), None))
        for name in cleanup_jobs()
    ]
    client = await _client()
    _print(await _run_job(client, NotificationLogCleanupWorkflow, log_cleanup, "notification-log-cleanup"))
    for job in archives:
        _print(await _run_job(client, BatchJobWorkflow, job, job.job))
    return 0


async def stats(args: argparse.Namespace) -> int:
    """The platform's figures of one UTC day (default yesterday) and every business's figures, through the
    scheduled jobs' workflows."""
    day = args.day or (datetime.now(UTC) - timedelta(days=1)).date()
    client = await _client()
    platform = await client.execute_workflow(
        PlatformStatsWorkflow.run,
        PlatformStatsInput(day=day.isoformat()),
        id=_task_id("platform-daily-stats"),
        task_queue=MAINTENANCE,
        static_summary="platform-daily-stats (python -m starter task:stats)",
    )
    print(json.dumps(platform.model_dump(mode="json")))
    _print(
        await _run_job(client, BatchJobWorkflow, _declared("business-stats", BatchJobInput), "business-stats")
    )
    return 0


async def _client() -> Client:
    from keeptime.temporal_client import connect_temporal

    return await connect_temporal(get_settings())


def _task_id(name: str) -> str:
    return f"task-{name}-{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}"


async def _run_job(client: Client, workflow: Any, arg: BaseModel, name: str) -> JobMetrics:
    """Start the job's own workflow (the scheduled path, run now) and show its ``progress`` query as a bar
    until it returns: the worker of the running stack does the work, in the same batches."""
    handle = await client.start_workflow(
        workflow.run,
        arg,
        id=_task_id(name),
        task_queue=MAINTENANCE,
        static_summary=f"{name} (python -m starter task:*)",
    )
    result = asyncio.ensure_future(handle.result())
    with _bar(name) as bar:
        while not result.done():
            await asyncio.wait({result}, timeout=0.5)
            with contextlib.suppress(RPCError, WorkflowQueryFailedError):  # between runs of continue-as-new
                so_far: JobMetrics = await handle.query(workflow.progress)
                bar.update(so_far.scanned - bar.n)
        metrics: JobMetrics = result.result()
        bar.update(metrics.scanned - bar.n)
    return metrics


def add_task_commands(commands: Any, run_async: Any) -> None:
    commands.add_parser(
        "task:send-reminders",
        help="make sure every active appointment, policy and vaccination has its workflow (it sends on time)",
    ).set_defaults(run=run_async(send_reminders))
    commands.add_parser("task:reconcile", help="the same as task:send-reminders").set_defaults(
        run=run_async(send_reminders)
    )
    clean = commands.add_parser("task:cleanup", help="run every cleanup and archive job now")
    as_scheduled = "days (default: as the scheduled job)"
    for flag in (
        "--delivered-days",
        "--failed-days",
        "--appointment-days",
        "--chat-room-days",
        "--call-days",
    ):
        clean.add_argument(flag, type=int, help=as_scheduled)
    clean.set_defaults(run=run_async(cleanup))
    statistics = commands.add_parser(
        "task:stats", help="compute platform (one day) and business statistics now"
    )
    statistics.add_argument("--day", type=date.fromisoformat, help="UTC day, default yesterday")
    statistics.set_defaults(run=run_async(stats))
