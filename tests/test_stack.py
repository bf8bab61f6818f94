"""End to end: `python -m starter dev` (what `make run` runs) brings everything up, runs a workflow
that writes to PostgreSQL, stops on Ctrl-C without leaving a process behind, and keeps its data."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
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
    metrics: list[str]  # the workers' Prometheus endpoints


@pytest.fixture
async def stack_config(postgres_server_url: str) -> AsyncIterator[StackConfig]:
    data_dir = Path(tempfile.mkdtemp(prefix="kt-stack-", dir="/tmp"))
    api_port, ui_port, temporal_port, metrics_port = free_port(), free_port(), free_port(), _two_free_ports()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DATABASE_URL"))}
    env.update(
        KEEPTIME_DATA_DIR=str(data_dir),
        API_PORT=str(api_port),
        TEMPORAL_ADDRESS=f"127.0.0.1:{temporal_port}",
        TEMPORAL_UI_PORT=str(ui_port),
        WORKER_PROCESSES="2",
        # Two workers of 8 connections: with the other test files' pools on a 100-connection server (CI's
        # second pass), the default 25 each ran it out of clients ("too many clients already").
        WORKER_DB_POOL_SIZE="8",
        WORKER_METRICS_PORT=str(metrics_port),  # and the next port for the second worker
        LOG_FORMAT="json",
    )
    external_db = None
    if os.environ.get("DATABASE_URL"):  # CI's second pass: the stack uses the given server, in its own DB
        external_db = database_url_named(postgres_server_url, f"keeptime_stack_{os.getpid()}")
        env["DATABASE_URL"] = external_db
    yield StackConfig(
        metrics=[f"http://127.0.0.1:{metrics_port + n}/metrics" for n in range(2)],
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


def _two_free_ports() -> int:
    """A port p with p + 1 free too (the second worker's metrics)."""
    for _ in range(50):
        port = free_port()
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no two adjacent free ports")


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
    assert "builder" in seeded
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
    builder_key = next(line.split()[1] for line in seeded.splitlines() if line.strip().startswith("builder "))
    builder = {"Authorization": f"Bearer {builder_key}"}
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{stack_config.api_url}/v1/inventory?short=true", headers=builder) as short:
            assert [item["name"] for item in (await short.json())["items"]] == ["Rebar"]
        async with http.get(f"{stack_config.api_url}/v1/projects", headers=builder) as projects:
            [site] = (await projects.json())["items"]
            assert (site["latitude"], site["longitude"]) == (41.8819, -87.6278)  # the weather job's

    async def sleeping(entity: str, count: int) -> bool:
        query = f'KeeptimeEntity="{entity}" AND ExecutionStatus="Running"'
        return (await client.count_workflows(query)).count == count

    # appointments: salon + restaurant; invoices: the builder's ten sent ones (the draft sleeps on nothing)
    for entity, count in (("appointment", 24 + 8), ("vaccination", 10), ("policy", 20), ("invoice", 10)):
        await eventually(partial(sleeping, entity, count), timeout_s=60, what=f"{count} {entity} workflows")
    assert "started 0 workflow(s)" in await _starter(stack_config, "task:send-reminders")
    cleanup = await _starter(stack_config, "task:cleanup")
    assert [json.loads(line)["job"] for line in cleanup.splitlines() if line.startswith("{")] == [
        "notification-log-cleanup",
        "appointment-archive",
        "call-record-cleanup",
        "chat-room-archive",
        "in-app-notification-archive",  # left out before: the command claimed every archive job
        "project-archive",
    ]
    assert '"changed": 3' in cleanup  # the demo's three stale chat rooms
    assert '"job": "business-stats"' in await _starter(stack_config, "task:stats")

    # One message end to end: its lateness is observed on a worker's Prometheus endpoint, the API counts
    # the booking request, and the JSON log names the workflow, the activity and the tenant on the send.
    business_id, workflow_id = await _book_a_reminder_soon(stack_config)
    await eventually(partial(_lateness_observed, stack_config), timeout_s=90, what="a lateness observation")
    worker_metrics = "".join([await _text(url) for url in stack_config.metrics])
    assert "temporal_workflow_task_schedule_to_start_latency" in worker_metrics  # the SDK's own
    api_metrics = await _text(f"{stack_config.api_url}/metrics")
    booked = (
        'keeptime_api_request_duration_seconds_count{method="POST",route="/v1/appointments",status="201"}'
    )
    assert booked in api_metrics
    assert 'keeptime_entities{entity="appointment"' in api_metrics
    assert 'keeptime_task_queue_backlog{kind="activity",task_queue="keeptime-notifications"}' in api_metrics
    lines = [json.loads(line) for line in stack_config.log.read_text().splitlines() if line.startswith("{")]
    assert any(
        line.get("workflow_id") == workflow_id
        and line.get("activity") == "send_notification"
        and line.get("tenant") == business_id
        and line.get("run_id")
        for line in lines
    ), [line for line in lines if line.get("workflow_id")][-5:]

    # A crashed worker or API is restarted with backoff; the stack stays up and works (supervision).
    workers = _workers(second)
    assert len(workers) == 2
    workers[0].kill()
    await eventually(
        lambda: _logged(stack_config, "exited unexpectedly with -9; restarting it in 1 s"),
        what="the restart in the stack's log",
    )
    await eventually(partial(_workers_are, second, 2, workers[0].pid), what="a new worker process")
    [api_process] = [c for c in psutil.Process(second.pid).children() if c.cmdline()[-2:] == ["-m", "api"]]
    api_process.kill()
    await eventually(lambda: _logged(stack_config, "api exited unexpectedly with -9"), what="the API restart")
    await _wait_ready(stack_config, second)
    assert second.poll() is None  # the stack did not stop
    again = await _starter(stack_config, "task:stats")  # a job workflow: only a running worker completes it
    assert '"job": "business-stats"' in again
    await _stop_and_check_nothing_is_left(stack_config, second)


async def _book_a_reminder_soon(config: StackConfig) -> tuple[int, str]:
    """A business whose reminder goes out 8 s before an appointment booked 12 s from now."""
    fast = {
        "reminder_offsets_s": [8],
        "reminder_cutoff_s": 1,
        "quiet_hours": {"start": "00:00", "end": "00:00"},
    }
    async with aiohttp.ClientSession(base_url=config.api_url) as http:
        async with http.post(
            "/v1/businesses",
            json={"name": "Metrics Salon", "time_zone": "UTC", "automation": fast},
            headers=ADMIN,
        ) as r:
            assert r.status == 201, await r.text()
            created = await r.json()
        auth = {"Authorization": f"Bearer {created['api_key']}"}
        guest = {"name": "Mia", "email": "mia@example.com"}
        async with http.post("/v1/customers", json=guest, headers=auth) as r:
            customer = await r.json()
        start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=12)
        body = {
            "customer_id": customer["id"],
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(minutes=30)).isoformat(),
        }
        async with http.post("/v1/appointments", json=body, headers=auth) as r:
            assert r.status == 201, await r.text()
            booked = await r.json()
    return int(created["business"]["id"]), str(booked["workflow_id"])


async def _text(url: str) -> str:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        assert response.status == 200, url
        return await response.text()


async def _lateness_observed(config: StackConfig) -> bool:
    for url in config.metrics:
        for line in (await _text(url)).splitlines():
            if (
                line.startswith("keeptime_message_lateness_seconds_count{")
                and 'event="appointment.reminder_8s"' in line
            ):
                return float(line.rsplit(" ", 1)[1]) >= 1
    return False


def _workers(stack: subprocess.Popen[bytes]) -> list[psutil.Process]:
    return [
        child
        for child in psutil.Process(stack.pid).children()
        if any(part.endswith("worker.py") for part in child.cmdline())
    ]


async def _workers_are(stack: subprocess.Popen[bytes], count: int, gone: int) -> bool:
    pids = [worker.pid for worker in _workers(stack)]
    return len(pids) == count and gone not in pids


async def _logged(config: StackConfig, text: str) -> bool:
    return text in config.log.read_text()


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
