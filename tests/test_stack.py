"""End to end: `python -m starter dev` (what `make run` runs) brings everything up, runs a workflow
that writes to PostgreSQL, stops on Ctrl-C without leaving a process behind, and keeps its data."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import aiohttp
import psutil
import pytest
from temporalio.client import Client, WorkflowExecutionStatus

from db.embedded import drop_database
from tests.appointment_support import eventually
from tests.support import database_url_named, free_port

pytestmark = pytest.mark.e2e
PROJECT_ROOT = Path(__file__).resolve().parent.parent
ADMIN = {"Authorization": "Bearer dev-admin-key"}


@dataclass
class StackConfig:
    env: dict[str, str]
    data_dir: Path
    api_url: str
    ui_url: str
    temporal_address: str
    log: Path


@pytest.fixture
async def stack_config(postgres_server_url: str) -> AsyncIterator[StackConfig]:
    data_dir = Path(tempfile.mkdtemp(prefix="kt-stack-", dir="/tmp"))
    api_port, ui_port, temporal_port = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DATABASE_URL"))}
    env.update(
        KEEPTIME_DATA_DIR=str(data_dir),
        API_PORT=str(api_port),
        TEMPORAL_ADDRESS=f"127.0.0.1:{temporal_port}",
        TEMPORAL_UI_PORT=str(ui_port),
    )
    external_db = None
    if os.environ.get("DATABASE_URL"):  # CI's second pass: the stack uses the given server, in its own DB
        external_db = database_url_named(postgres_server_url, f"keeptime_stack_{os.getpid()}")
        env["DATABASE_URL"] = external_db
    yield StackConfig(
        env=env,
        data_dir=data_dir,
        api_url=f"http://127.0.0.1:{api_port}",
        ui_url=f"http://127.0.0.1:{ui_port}",
        temporal_address=f"127.0.0.1:{temporal_port}",
        log=data_dir / "stack-test.log",
    )
    if external_db:
        await drop_database(external_db)
    shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
def stack_runner(stack_config: StackConfig) -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:  # a failed test must not leave a stack running
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()


def _start(config: StackConfig, started: list[subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
    with config.log.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "starter", "dev"], cwd=PROJECT_ROOT, env=config.env, stdout=log, stderr=log
        )
    started.append(process)
    return process


async def _wait_ready(config: StackConfig, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            assert process.poll() is None, f"stack exited early:\n{config.log.read_text()[-4000:]}"
            try:
                async with http.get(f"{config.api_url}/readyz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.5)
    pytest.fail(f"the stack did not become ready:\n{config.log.read_text()[-4000:]}")


def _postgres_pid(data_dir: Path) -> int | None:
    pid_file = data_dir / "pgdata" / "postmaster.pid"
    return int(pid_file.read_text().split()[0]) if pid_file.exists() else None


async def _stop_and_check_nothing_is_left(config: StackConfig, process: subprocess.Popen[bytes]) -> None:
    tree = psutil.Process(process.pid).children(recursive=True)
    postgres_pid = _postgres_pid(config.data_dir)
    if postgres_pid:
        tree.append(psutil.Process(postgres_pid))
    assert {p.name() for p in tree} >= {"temporal"}, [p.name() for p in tree]
    process.send_signal(signal.SIGINT)  # what Ctrl-C sends
    code = await asyncio.to_thread(process.wait, 60)
    assert code == 0, config.log.read_text()[-4000:]
    _, alive = psutil.wait_procs(tree, timeout=15)
    assert alive == [], f"left behind: {[(p.pid, p.name()) for p in alive]}"


async def test_stack_starts_runs_a_workflow_stops_cleanly_and_keeps_its_data(
    stack_config: StackConfig, stack_runner: list[subprocess.Popen[bytes]]
) -> None:
    first = _start(stack_config, stack_runner)
    await _wait_ready(stack_config, first)
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{stack_config.api_url}/v1/health-checks", headers=ADMIN) as response:
            assert response.status == 200, await response.text()
            workflow_id = (await response.json())["workflow_id"]
        async with http.get(f"{stack_config.ui_url}/api/v1/namespaces/default") as ui:
            assert ui.status == 200  # the Web UI is up and shows the namespace
            assert (await ui.json())["namespaceInfo"]["name"] == "default"
    await _stop_and_check_nothing_is_left(stack_config, first)

    second = _start(stack_config, stack_runner)
    await _wait_ready(stack_config, second)
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{stack_config.api_url}/v1/health-checks/latest", headers=ADMIN) as latest,
    ):
        assert (await latest.json())["workflow_id"] == workflow_id  # PostgreSQL kept its rows
    client = await Client.connect(stack_config.temporal_address)
    described = await client.get_workflow_handle(workflow_id).describe()
    assert described.status == WorkflowExecutionStatus.COMPLETED  # Temporal kept its history

    # The management commands find the running stack's database and Temporal by themselves.
    seeded = await _starter(stack_config, "db:seed")
    assert "demo data created" in seeded and "insurer" in seeded and "restaurant" in seeded
    assert "demo data exists already" in await _starter(stack_config, "db:seed")  # a second seed refuses
    salon_key = next(line.split()[1] for line in seeded.splitlines() if line.strip().startswith("salon "))
    async with (
        aiohttp.ClientSession() as http,
        http.patch(
            f"{stack_config.api_url}/v1/businesses/me",
            json={"name": "Demo Salon Nord (renamed)"},
            headers={"Authorization": f"Bearer {salon_key}"},
        ) as renamed,
    ):
        assert renamed.status == 200, await renamed.text()  # seeded rows are rows the API accepts

    async def sleeping(entity: str, count: int) -> bool:
        query = f'KeeptimeEntity="{entity}" AND ExecutionStatus="Running"'
        return (await client.count_workflows(query)).count == count

    for entity, count in (("appointment", 24 + 8), ("vaccination", 10), ("policy", 20)):  # salon + restaurant
        await eventually(partial(sleeping, entity, count), timeout_s=60, what=f"{count} {entity} workflows")
    assert "started 0 workflow(s)" in await _starter(stack_config, "task:send-reminders")
    cleanup = await _starter(stack_config, "task:cleanup")
    assert [json.loads(line)["job"] for line in cleanup.splitlines() if line.startswith("{")] == [
        "notification-log-cleanup",
        "appointment-archive",
        "chat-room-archive",
        "call-record-cleanup",
    ]
    assert '"changed": 3' in cleanup  # the demo's three stale chat rooms
    assert '"job": "business-stats"' in await _starter(stack_config, "task:stats")

    # A crashed worker is restarted with backoff; the stack stays up and works (issue 14, supervision).
    [worker] = [
        child
        for child in psutil.Process(second.pid).children()
        if any(part.endswith("worker.py") for part in child.cmdline())
    ]
    worker.kill()
    await eventually(
        lambda: _logged(stack_config, "worker exited unexpectedly with -9; restarting it in 1 s"),
        what="the restart in the stack's log",
    )
    await eventually(partial(_has_worker_other_than, second, worker.pid), what="a new worker process")
    assert second.poll() is None  # the stack did not stop
    again = await _starter(stack_config, "task:stats")  # a job workflow: only a running worker completes it
    assert '"job": "business-stats"' in again
    await _stop_and_check_nothing_is_left(stack_config, second)


async def _logged(config: StackConfig, text: str) -> bool:
    return text in config.log.read_text()


async def _has_worker_other_than(stack: subprocess.Popen[bytes], pid: int) -> bool:
    return any(
        any(part.endswith("worker.py") for part in child.cmdline()) and child.pid != pid
        for child in psutil.Process(stack.pid).children()
    )


async def _starter(config: StackConfig, command: str) -> str:
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "starter", command],
        cwd=PROJECT_ROOT,
        env=config.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout
