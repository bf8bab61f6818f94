"""Catch-up: a job whose runs fell due while the Temporal server was down runs once when it is back.

A real dev server with its SQLite file is stopped for three periods of a 5-second test schedule that uses the
policy every declared job uses (overlap SKIP, catch-up window of one period), then started again."""

from __future__ import annotations

import asyncio
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import BaseModel
from temporalio import workflow
from temporalio.client import Client, ScheduleIntervalSpec, ScheduleSpec
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Worker

from keeptime.settings import Settings
from services.schedules import Job
from starter.stack import temporal_dev_server_argv
from tests.support import free_port

pytestmark = pytest.mark.e2e
PERIOD = timedelta(seconds=5)


class ProbeInput(BaseModel):
    note: str = "catch-up probe"


@workflow.defn(sandboxed=False)  # a test module is no place for the sandbox's re-import
class CatchUpProbeWorkflow:
    @workflow.run
    async def run(self, probe: ProbeInput) -> str:
        return probe.note


@pytest.fixture
def server_argv() -> Iterator[list[str]]:
    data_dir = Path(tempfile.mkdtemp(prefix="kt-catchup-", dir="/tmp"))
    settings = Settings(temporal_address=f"127.0.0.1:{free_port()}", temporal_ui_port=free_port())
    yield [*temporal_dev_server_argv(settings, data_dir), "--headless"]


async def _connect(address: str) -> Client:
    for _ in range(100):
        try:
            return await Client.connect(address, data_converter=pydantic_data_converter)
        except RuntimeError:
            await asyncio.sleep(0.2)
    raise AssertionError("the dev server did not come up")


async def test_runs_missed_during_an_outage_happen_once(server_argv: list[str]) -> None:
    address = server_argv[server_argv.index("--port") + 1]
    address = f"127.0.0.1:{address}"
    job = Job(
        "catch-up-probe",
        "probe",
        CatchUpProbeWorkflow.run,
        ProbeInput(),
        cron="* * * * *",
        period=PERIOD,
        task_queue="catch-up-probe",
    )
    schedule = job.schedule()
    schedule = replace(schedule, spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=PERIOD)]))
    server = _start(server_argv)
    try:
        client = await _connect(address)
        async with Worker(client, task_queue="catch-up-probe", workflows=[CatchUpProbeWorkflow]):
            await client.create_schedule(job.schedule_id, schedule)
            await _actions_at_least(client, job.schedule_id, 1)
        server.terminate()
        server.wait(timeout=30)
        stopped = datetime.now(UTC)
        await asyncio.sleep(3.2 * PERIOD.total_seconds())  # three runs fall due while the server is down
        server = _start(server_argv)
        client = await _connect(address)
        restarted = datetime.now(UTC)
        async with Worker(client, task_queue="catch-up-probe", workflows=[CatchUpProbeWorkflow]):
            await asyncio.sleep(3)
            description = await client.get_schedule_handle(job.schedule_id).describe()
    finally:
        server.terminate()
        server.wait(timeout=30)
    missed = [a for a in description.info.recent_actions if stopped < a.scheduled_at < restarted]
    assert len(missed) == 1, [(a.scheduled_at, a.started_at) for a in description.info.recent_actions]
    assert missed[0].started_at >= restarted - timedelta(seconds=1)  # it ran late, after the outage


def _start(argv: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def _actions_at_least(client: Client, schedule_id: str, count: int) -> None:
    for _ in range(100):
        if (await client.get_schedule_handle(schedule_id).describe()).info.num_actions >= count:
            return
        await asyncio.sleep(0.2)
    raise AssertionError("the schedule never ran")
