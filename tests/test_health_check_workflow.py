"""The health check workflow on the time-skipping server with the real activity and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import func, select
from temporalio.testing import WorkflowEnvironment

from db.engine import SessionFactory
from db.models import HealthCheckRun
from domain.health_types import CheckDatabaseHealthInput, TableHealth, table_warnings
from domain.task_queues import MAINTENANCE
from keeptime.settings import Settings
from tests.support import running_worker
from workflows.health_check import DatabaseHealthCheckWorkflow


async def test_health_check_reports_every_table_and_stores_the_report(
    time_skipping_env: WorkflowEnvironment, sessions: SessionFactory, database_url: str
) -> None:
    settings = Settings(database_url=database_url)
    async with running_worker(time_skipping_env.client, sessions, settings):
        report = await time_skipping_env.client.execute_workflow(
            DatabaseHealthCheckWorkflow.run,
            CheckDatabaseHealthInput(run_id="health-check-test-1"),
            id="health-check-test-1",
            task_queue=MAINTENANCE,
        )
    assert {t.table for t in report.tables} >= {"appointments", "notification_log", "customers"}
    assert report.server_version
    async with sessions() as session:
        stored = (await session.execute(select(HealthCheckRun))).scalar_one()
    assert stored.id == report.report_id
    assert stored.workflow_id == "health-check-test-1"
    assert stored.report["warnings"] == report.warnings


async def test_rerunning_the_same_check_updates_its_row_instead_of_adding_one(
    time_skipping_env: WorkflowEnvironment, sessions: SessionFactory, database_url: str
) -> None:
    settings = Settings(database_url=database_url)
    async with running_worker(time_skipping_env.client, sessions, settings):
        for attempt in range(2):
            await time_skipping_env.client.execute_workflow(
                DatabaseHealthCheckWorkflow.run,
                CheckDatabaseHealthInput(run_id="health-check-same"),
                id=f"health-check-same-{attempt}",
                task_queue=MAINTENANCE,
            )
    async with sessions() as session:
        assert (await session.execute(select(func.count()).select_from(HealthCheckRun))).scalar_one() == 1


def _table(live: int, dead: int) -> TableHealth:
    return TableHealth(
        table="t", total_bytes=8192, live_rows=live, dead_rows=dead, seq_scans=0, index_scans=0
    )


def test_a_few_dead_rows_in_a_small_table_are_not_a_vacuum_problem() -> None:
    """A fresh install said "not ok": a table with 1 live and 3 dead rows is 75% dead, yet autovacuum would
    not even start on it (it waits for 50 + 20% of the rows). Warn only from ``dead_rows_floor`` on."""
    request = CheckDatabaseHealthInput(run_id="r")
    assert table_warnings([_table(live=1, dead=3), _table(live=0, dead=40)], request) == []
    assert table_warnings([_table(live=10_000, dead=5_000)], request) == [
        "t: 5000 dead rows of 15000; VACUUM is behind"
    ]
    assert table_warnings([_table(live=100_000, dead=5_000)], request) == []  # 5% dead: autovacuum's normal
