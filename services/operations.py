"""Client-side Temporal calls shared by the API and the starter commands."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy

from domain.health_types import CheckDatabaseHealthInput, DatabaseHealthReport
from domain.ids import health_check_workflow_id
from domain.task_queues import ALL_TASK_QUEUES, MAINTENANCE
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


QUEUE_KINDS = {
    "workflow": TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    "activity": TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
}


@dataclass(frozen=True)
class Backlog:
    """Tasks of one kind on one queue that no worker has taken yet, and the age of the oldest."""

    task_queue: str
    kind: str
    count: int | None  # None: Temporal did not answer
    age_s: float | None


async def task_queue_backlogs(client: Client, namespace: str, rpc_timeout: timedelta) -> list[Backlog]:
    """Every Keeptime queue's backlog, from DescribeTaskQueue with ``report_stats`` (approximate figures)."""

    async def one(queue: str, kind: str) -> Backlog:
        try:
            answer = await client.workflow_service.describe_task_queue(
                DescribeTaskQueueRequest(
                    namespace=namespace,
                    task_queue=TaskQueue(name=queue),
                    task_queue_type=QUEUE_KINDS[kind],
                    report_stats=True,
                ),
                timeout=rpc_timeout,
            )
        except Exception:  # Temporal is down: no figure rather than a stale one
            return Backlog(queue, kind, None, None)
        stats = answer.stats
        return Backlog(
            queue,
            kind,
            stats.approximate_backlog_count,
            stats.approximate_backlog_age.ToTimedelta().total_seconds(),
        )

    return list(
        await asyncio.gather(*(one(queue, kind) for queue in ALL_TASK_QUEUES for kind in QUEUE_KINDS))
    )
