"""Liveness and readiness: /healthz says the process is up, /readyz that PostgreSQL and Temporal answer."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from aiohttp import web
from sqlalchemy import text

from api.keys import SESSIONS, TEMPORAL
from db.engine import SessionFactory

_CHECK_TIMEOUT_S = 3.0


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


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
