"""Liveness and readiness: /healthz says the process is up, /readyz that PostgreSQL and Temporal answer."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from aiohttp import web
from sqlalchemy import text

from api.keys import OPENAPI, SESSIONS, TEMPORAL
from api.openapi import RouteTable
from db.engine import SessionFactory

routes = RouteTable("ops", public=True)

_CHECK_TIMEOUT_S = 3.0


@routes.get("/healthz", "The process is up", ok={"200": "up"})
async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@routes.get(
    "/readyz",
    "PostgreSQL and Temporal are reachable",
    ok={"200": "ready", "503": "not ready, with the reason per dependency"},
)
async def readyz(request: web.Request) -> web.Response:
    postgres, temporal = await asyncio.gather(
        _probe(_ping_postgres(request.app[SESSIONS])),
        _probe(request.app[TEMPORAL].service_client.check_health()),
    )
    ready = postgres["ok"] and temporal["ok"]
    return web.json_response(
        {"status": "ready" if ready else "not_ready", "checks": {"postgres": postgres, "temporal": temporal}},
        status=200 if ready else 503,
    )


async def _ping_postgres(sessions: SessionFactory) -> None:
    async with sessions() as session:
        await session.execute(text("SELECT 1"))


async def _probe(check: Awaitable[object]) -> dict[str, object]:
    try:
        async with asyncio.timeout(_CHECK_TIMEOUT_S):
            await check
        return {"ok": True}
    except Exception as exc:  # any failure means "not ready"; the reason goes to the caller
        return {"ok": False, "reason": f"{type(exc).__name__}: {exc}"[:300]}


@routes.get("/openapi.json", "This document", ok={"200": "OpenAPI 3.1"})
async def openapi_json(request: web.Request) -> web.Response:
    return web.json_response(request.app[OPENAPI])
