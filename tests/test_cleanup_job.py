"""The notification-log cleanup job on real PostgreSQL rows: both sides of each age threshold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select
from temporalio.testing import WorkflowEnvironment

from db.engine import SessionFactory
from db.models import NotificationLog
from domain.job_types import CleanupInput
from domain.statuses import NotificationStatus
from domain.task_queues import MAINTENANCE
from keeptime.settings import Settings
from tests.factories import make_business
from tests.support import running_worker
from workflows.jobs import NotificationLogCleanupWorkflow

AGES = {  # (status, days old) -> survives?
    ("delivered", 91): False,
    ("delivered", 89): True,
    ("failed", 31): False,
    ("failed", 29): True,
    ("sent", 400): True,
    ("skipped", 400): True,
}


async def _seed(sessions: SessionFactory, extra_old_delivered: int = 0) -> int:
    business = await make_business(sessions)
    now = datetime.now(UTC)
    rows = [(status, days) for status, days in AGES] + [("delivered", 120)] * extra_old_delivered
    async with sessions() as session:
        await session.execute(
            insert(NotificationLog),
            [
                {
                    "idempotency_key": f"k{n}-{status}-{days}",
                    "message_key": f"k{n}",
                    "business_id": business.id,
                    "recipient": "customer:1",
                    "entity_type": "appointment",
                    "entity_id": n,
                    "event": "x",
                    "status": NotificationStatus(status),
                    "updated_at": now - timedelta(days=days),
                }
                for n, (status, days) in enumerate(rows)
            ],
        )
        await session.commit()
    return business.id


async def _left(sessions: SessionFactory) -> set[tuple[str, int]]:
    now = datetime.now(UTC)
    async with sessions() as session:
        rows = (await session.execute(select(NotificationLog.status, NotificationLog.updated_at))).all()
    return {(status.value, round((now - updated).total_seconds() / 86400)) for status, updated in rows}


async def test_cleanup_deletes_exactly_past_the_thresholds_in_batches_and_is_idempotent(
    dev_env: WorkflowEnvironment, sessions: SessionFactory, database_url: str
) -> None:
    await _seed(sessions, extra_old_delivered=5)
    async with running_worker(dev_env.client, sessions, Settings(database_url=database_url)):
        handle = await dev_env.client.start_workflow(
            NotificationLogCleanupWorkflow.run,
            CleanupInput(batch_size=2, batches_per_run=2),
            id="cleanup-test-1",
            task_queue=MAINTENANCE,
        )
        first = await handle.result()
        assert (await handle.describe()).run_id != handle.first_execution_run_id  # it continued as new
        second = await dev_env.client.execute_workflow(
            NotificationLogCleanupWorkflow.run, CleanupInput(), id="cleanup-test-2", task_queue=MAINTENANCE
        )
    assert first.changed == 7 and second.changed == 0
    assert await _left(sessions) == {key for key, survives in AGES.items() if survives}
