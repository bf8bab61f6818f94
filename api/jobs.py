"""Operator endpoints for batch jobs (Temporal Schedules): list with results, trigger, pause, resume."""

from __future__ import annotations

from aiohttp import web

from api.auth import require_admin
from api.errors import ApiError
from api.keys import TEMPORAL
from keeptime.schedules import JOBS, Job, describe_job, job_named


def _job(request: web.Request) -> Job:
    job = job_named(request.match_info["name"])
    if job is None:
        raise ApiError(
            404, "not_found", f"no job {request.match_info['name']!r}; jobs: {[j.name for j in JOBS]}"
        )
    return job


async def list_jobs(request: web.Request) -> web.Response:
    require_admin(request)
    return web.json_response({"jobs": [await describe_job(request.app[TEMPORAL], job) for job in JOBS]})


async def trigger(request: web.Request) -> web.Response:
    require_admin(request)
    job = _job(request)
    await request.app[TEMPORAL].get_schedule_handle(job.schedule_id).trigger()
    return web.json_response({"name": job.name, "triggered": True}, status=202)


async def pause(request: web.Request) -> web.Response:
    require_admin(request)
    job = _job(request)
    await request.app[TEMPORAL].get_schedule_handle(job.schedule_id).pause(note="paused through the API")
    return web.json_response(await describe_job(request.app[TEMPORAL], job))


async def resume(request: web.Request) -> web.Response:
    require_admin(request)
    job = _job(request)
    await request.app[TEMPORAL].get_schedule_handle(job.schedule_id).unpause(note=job.description)
    return web.json_response(await describe_job(request.app[TEMPORAL], job))
