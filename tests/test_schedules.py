"""Batch jobs as Temporal Schedules on the dev server: the sync, and jobs run through the operator API."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from temporalio.client import Client, ScheduleOverlapPolicy
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from db.engine import SessionFactory
from keeptime.settings import JobOverride, Settings
from services.schedules import JOBS, PREFIX, configured_jobs, sync_schedules
from tests.appointment_support import eventually
from tests.factories import make_appointment, make_business, make_customer

ADMIN = {"Authorization": "Bearer dev-admin-key"}


@pytest.fixture
async def clean_schedules(dev_env: WorkflowEnvironment) -> AsyncIterator[Client]:
    yield dev_env.client
    async for schedule in await dev_env.client.list_schedules():
        if schedule.id.startswith(PREFIX):
            with contextlib.suppress(RPCError):  # the listing lags behind deletions
                await dev_env.client.get_schedule_handle(schedule.id).delete()


async def test_sync_creates_updates_keeps_pauses_and_deletes(clean_schedules: Client) -> None:
    client = clean_schedules
    first = await sync_schedules(client)
    assert sorted(first.created) == sorted(job.schedule_id for job in JOBS) and first.deleted == []
    described = await client.get_schedule_handle(JOBS[0].schedule_id).describe()
    assert described.schedule.policy.overlap == ScheduleOverlapPolicy.SKIP
    assert described.schedule.policy.catchup_window == JOBS[0].period
    await client.get_schedule_handle(JOBS[0].schedule_id).pause(note="maintenance window")

    again = await sync_schedules(client)
    assert again.created == [] and sorted(again.updated) == sorted(job.schedule_id for job in JOBS)
    state = (await client.get_schedule_handle(JOBS[0].schedule_id).describe()).schedule.state
    assert state.paused and state.note == "maintenance window"  # a deploy does not undo an operator's pause

    fewer = await sync_schedules(client, JOBS[:1])
    assert fewer.deleted == sorted(job.schedule_id for job in JOBS[1:])

    async def only_the_first_is_left() -> bool:
        remaining = [s.id async for s in await client.list_schedules() if s.id.startswith(PREFIX)]
        return remaining == [JOBS[0].schedule_id]

    await eventually(only_the_first_is_left, what="the listing to show the deletions")


async def test_the_reconciler_job_runs_from_the_api_and_reports_what_it_fixed(
    api: TestClient[web.Request, web.Application], clean_schedules: Client, sessions: SessionFactory
) -> None:
    await sync_schedules(clean_schedules)
    business = await make_business(sessions)
    customer = await make_customer(sessions, business)
    orphan = await make_appointment(
        sessions, business, customer, starts_at=datetime.now(UTC) + timedelta(days=3)
    )

    assert (await api.post("/v1/jobs/reconciler/pause", headers=ADMIN)).status == 200
    assert (await api.post("/v1/jobs/reconciler/resume", headers=ADMIN)).status == 200
    assert (await api.post("/v1/jobs/nope/trigger", headers=ADMIN)).status == 404
    assert (await api.post("/v1/jobs/reconciler/trigger")).status == 401
    assert (await api.post("/v1/jobs/reconciler/trigger", headers=ADMIN)).status == 202

    async def fixed() -> bool:
        jobs = (await (await api.get("/v1/jobs", headers=ADMIN)).json())["jobs"]
        runs: list[dict[str, Any]] = next(j for j in jobs if j["name"] == "reconciler")["recent_runs"]
        return bool(runs) and runs[-1].get("result") is not None

    await eventually(fixed, timeout_s=30, what="the reconciler run and its result")
    jobs = (await (await api.get("/v1/jobs", headers=ADMIN)).json())["jobs"]
    reconciler = next(j for j in jobs if j["name"] == "reconciler")
    assert reconciler["paused"] is False and reconciler["next_runs"]
    result = reconciler["recent_runs"][-1]["result"]
    assert result["changed"] == 1 and result["details"] == [f"started appointment-{orphan.id}"]
    await clean_schedules.get_workflow_handle(f"appointment-{orphan.id}").describe()  # it runs now


async def test_the_jobs_api_shows_the_deployments_overridden_timing(
    api_settings: Settings, clean_schedules: Client
) -> None:
    overrides = {"appointment-archive": JobOverride(cron="0 5 * * *", time_zone="Europe/Berlin")}
    await sync_schedules(clean_schedules, configured_jobs(overrides))
    settings = api_settings.model_copy(update={"job_overrides": overrides})
    async with TestClient(TestServer(create_app(settings), host="127.0.0.1")) as client:
        jobs = (await (await client.get("/v1/jobs", headers=ADMIN)).json())["jobs"]
    archive = next(j for j in jobs if j["name"] == "appointment-archive")
    assert (archive["cron"], archive["time_zone"]) == ("0 5 * * *", "Europe/Berlin")
    berlin = ZoneInfo("Europe/Berlin")
    assert archive["next_runs"]
    assert all(datetime.fromisoformat(t).astimezone(berlin).hour == 5 for t in archive["next_runs"])


def test_a_deployment_overrides_a_jobs_timing_and_thresholds(monkeypatch: pytest.MonkeyPatch) -> None:
    archive_change = {"cron": "0 5 * * *", "time_zone": "Europe/Berlin", "arg": {"older_than_days": 400}}
    monkeypatch.setenv("JOB_OVERRIDES", json.dumps({"appointment-archive": archive_change}))
    jobs = {job.name: job for job in configured_jobs(Settings().job_overrides)}
    archive = jobs["appointment-archive"]
    assert (archive.cron, archive.time_zone, archive.arg.model_dump()["older_than_days"]) == (
        "0 5 * * *",
        "Europe/Berlin",
        400,
    )
    spec = archive.schedule().spec
    assert (spec.cron_expressions, spec.time_zone_name) == (["0 5 * * *"], "Europe/Berlin")
    assert jobs["reconciler"] == next(job for job in JOBS if job.name == "reconciler")  # the others unchanged
    for bad, message in (
        ({"no-such-job": JobOverride()}, "unknown jobs"),
        ({"appointment-archive": JobOverride(arg={"older_than_dayz": 3})}, "no input fields"),
        ({"appointment-archive": JobOverride(time_zone="Mars/Olympus")}, "time zone"),
    ):
        with pytest.raises(ValueError, match=message):
            configured_jobs(bad)


# The construction predecessor's beat schedule as Keeptime runs it: removing or retiming one must fail here.
CONSTRUCTION_JOBS = {
    "inventory-shortage-check": ("0 8 * * *", "UTC", "BatchJobWorkflow"),
    "touch-up-check": ("0 9 * * *", "UTC", "BatchJobWorkflow"),
    "weekly-payroll": ("*/15 * * * *", "UTC", "WeeklyPayrollWorkflow"),
    "weather": ("*/15 * * * *", "UTC", "WeatherWorkflow"),
    "project-digest": ("*/15 * * * *", "UTC", "ProjectDigestWorkflow"),
    "staff-notices": ("* * * * *", "UTC", "StaffNoticesWorkflow"),
    "project-archive": ("15 4 * * *", "UTC", "BatchJobWorkflow"),
}


def test_the_construction_schedules_are_declared_with_their_crons() -> None:
    declared = {job.name: job for job in JOBS}
    for name, (cron, zone, workflow) in CONSTRUCTION_JOBS.items():
        job = declared[name]
        spec = job.schedule().spec
        assert (spec.cron_expressions, spec.time_zone_name) == ([cron], zone), name
        assert job.workflow.__qualname__.split(".")[0] == workflow, name
        assert job.schedule_id == f"{PREFIX}{name}", name


def test_task_cleanup_runs_every_declared_archive_and_cleanup_job() -> None:
    from starter.tasks import cleanup_jobs

    everything = {job.name for job in JOBS if job.name.endswith(("-archive", "-cleanup"))}
    assert set(cleanup_jobs()) == everything - {"notification-log-cleanup"}  # that one has its own workflow
    assert {"in-app-notification-archive", "project-archive"} <= set(cleanup_jobs())
