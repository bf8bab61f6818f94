"""Operator endpoints for batch jobs (Temporal Schedules): list with results, trigger, pause, resume."""

from __future__ import annotations

from aiohttp import web

from api.auth import require_admin
from api.errors import ApiError
from api.keys import SETTINGS, TEMPORAL
from api.openapi import RouteTable
from services.schedules import Job, configured_jobs, describe_job, job_named

routes = RouteTable("jobs")


def _jobs(request: web.Request) -> list[Job]:
    """The jobs as this deployment schedules them (``JOB_OVERRIDES`` applied)."""
    return configured_jobs(request.app[SETTINGS].job_overrides)


def _job(request: web.Request) -> Job:
    jobs = _jobs(request)
    job = job_named(request.match_info["name"], jobs)
    if job is None:
        raise ApiError(
            404, "not_found", f"no job {request.match_info['name']!r}; jobs: {[j.name for j in jobs]}"
        )
    return job


@routes.get(
    "/v1/jobs",
    "Batch jobs (Temporal Schedules): paused or not, next runs, recent runs with their results",
    ok={"200": "jobs"},
)
async def list_jobs(request: web.Request) -> web.Response:
    require_admin(request)
    client = request.app[TEMPORAL]
    return web.json_response({"jobs": [await describe_job(client, job) for job in _jobs(request)]})


@routes.post(
    "/v1/jobs/{name}/trigger",
    "Run the job now (overlap policy still applies)",
    ok={"200": "the job", "202": "triggered"},
)
async def trigger(request: web.Request) -> web.Response:
    require_admin(request)
    job = _job(request)
    await request.app[TEMPORAL].get_schedule_handle(job.schedule_id).trigger()
    return web.json_response({"name": job.name, "triggered": True}, status=202)


@routes.post("/v1/jobs/{name}/pause", "Pause the job's schedule", ok={"200": "the job", "202": "triggered"})
async def pause(request: web.Request) -> web.Response:
    require_admin(request)
    job = _job(request)
    await request.app[TEMPORAL].get_schedule_handle(job.schedule_id).pause(note="paused through the API")
    return web.json_response(await describe_job(request.app[TEMPORAL], job))


@routes.post("/v1/jobs/{name}/resume", "Resume the job's schedule", ok={"200": "the job", "202": "triggered"})
async def resume(request: web.Request) -> web.Response:
    require_admin(request)
    job = _job(request)
    await request.app[TEMPORAL].get_schedule_handle(job.schedule_id).unpause(note=job.description)
    return web.json_response(await describe_job(request.app[TEMPORAL], job))
