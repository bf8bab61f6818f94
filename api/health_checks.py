"""Operator endpoints for the database health check: run one now, read the latest report."""

from __future__ import annotations

import asyncio

from aiohttp import web
from sqlalchemy import select

from api.auth import require_admin
from api.errors import ApiError
from api.keys import SESSIONS, TEMPORAL
from api.openapi import RouteTable
from db.models import HealthCheckRun
from domain.health_types import DatabaseHealthReport
from domain.task_queues import MAINTENANCE
from services.operations import run_database_health_check

routes = RouteTable("ops")

_RUN_TIMEOUT_S = 30.0


@routes.post(
    "/v1/health-checks",
    "Run the database health check now (a Temporal workflow) and return its report",
    ok={"200": "report"},
    errors={"504": "no worker finished the check in time"},
    result=DatabaseHealthReport,
)
async def run_health_check(request: web.Request) -> web.Response:
    require_admin(request)
    try:
        async with asyncio.timeout(_RUN_TIMEOUT_S):
            workflow_id, report = await run_database_health_check(request.app[TEMPORAL], origin="API")
    except TimeoutError as exc:
        raise ApiError(
            504,
            "worker_timeout",
            f"no worker finished the health check within {_RUN_TIMEOUT_S:.0f}s; is a worker "
            f"polling {MAINTENANCE}?",
        ) from exc
    return web.json_response({"workflow_id": workflow_id, **report.model_dump(mode="json")})


@routes.get(
    "/v1/health-checks/latest",
    "The most recent database health check report",
    ok={"200": "report"},
    errors={"404": "no check has run yet"},
)
async def latest_health_check(request: web.Request) -> web.Response:
    require_admin(request)
    async with request.app[SESSIONS]() as session:
        row = (
            await session.execute(select(HealthCheckRun).order_by(HealthCheckRun.id.desc()).limit(1))
        ).scalar_one_or_none()
    if row is None:
        raise ApiError(404, "not_found", "no health check has run yet; POST /v1/health-checks runs one")
    return web.json_response(
        {"workflow_id": row.workflow_id, "ok": row.ok, "created_at": row.created_at.isoformat(), **row.report}
    )
