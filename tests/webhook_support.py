"""A business's webhook receiver on 127.0.0.1 that behaves as real ones do (answers, fails, hangs, redirects,
sends 10 MB, drops the connection), and helpers to run the relay against it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from temporalio.testing import ActivityEnvironment

from activities.webhooks import WebhookActivities
from db import events as event_store
from db.engine import SessionFactory
from domain.events import AppointmentPayload
from domain.webhooks import RelayWebhooksInput, RelayWebhooksResult
from keeptime.settings import Settings
from tests.support import free_port


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int | None  # what the receiver answered (None: it dropped the connection)

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


@dataclass
class Receiver:
    """Every path answers 204 unless a behaviour is queued for it: ``("status", 500)``, ``("hang", s)``,
    ``("huge", 0)`` (200 with 10 MB), ``("redirect", 0)`` (302 to /elsewhere), ``("close", 0)`` (drops the
    connection before answering)."""

    port: int = field(default_factory=free_port)
    received: list[Received] = field(default_factory=list)
    plans: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    always: dict[str, tuple[str, float]] = field(default_factory=dict)
    fail_rate: float = 0.0  # of the requests without a plan, answered 503 (seeded by ``seed``)
    seed: int = 0
    runner: web.AppRunner | None = None

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/hook/{name}"

    def on(self, name: str) -> list[Received]:
        return [r for r in self.received if r.path == f"/hook/{name}"]

    def ids(self, name: str) -> list[str]:
        return [r.headers["webhook-id"] for r in self.on(name)]

    def accepted(self, name: str) -> list[Received]:
        """What the receiver took (answered 2xx): what its application acted on."""
        return [r for r in self.on(name) if r.status is not None and 200 <= r.status < 300]

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook/{name}", self._hook)
        app.router.add_post("/elsewhere", self._hook)
        self.runner = web.AppRunner(app, handler_cancellation=True)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    async def _hook(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info.get("name", "")
        body = await request.read()
        plan = self.plans.get(name)
        kind, value = plan.pop(0) if plan else self.always.get(name, ("ok", 0))
        if not plan and kind == "ok" and self.fail_rate and self._random.random() < self.fail_rate:
            kind, value = "status", 503
        if kind == "hang":
            await asyncio.sleep(value)
        status = {"status": int(value), "redirect": 302, "close": None, "huge": 200}.get(kind, 204)
        self.received.append(Received(request.path, dict(request.headers), body, status))
        if kind == "status":
            return web.Response(status=int(value))
        if kind == "redirect":
            raise web.HTTPFound("/elsewhere")
        if kind == "close":
            assert request.transport is not None
            request.transport.close()
            return web.Response(status=204)
        if kind == "huge":
            answer = web.StreamResponse(status=200)
            await answer.prepare(request)
            chunk = b"x" * 65536
            with contextlib.suppress(ConnectionError):
                for _ in range(160):
                    await answer.write(chunk)
            return answer
        return web.Response(status=204)


@contextlib.asynccontextmanager
async def receiving() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    await receiver.start()
    try:
        yield receiver
    finally:
        await receiver.stop()


@contextlib.asynccontextmanager
async def relaying(
    sessions: SessionFactory, settings: Settings, *, poll_s: float = 0.05
) -> AsyncIterator[asyncio.Task[RelayWebhooksResult]]:
    """The relay activity running (as the worker runs it) until the block ends; then it is cancelled, as
    a worker that stops would."""
    env = ActivityEnvironment()
    run = RelayWebhooksInput(run_for_s=600, poll_s=poll_s)
    task = asyncio.create_task(env.run(WebhookActivities(sessions, settings).relay_webhooks, run))
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


async def record_change(sessions: SessionFactory, business_id: int, appointment_id: int, status: str) -> int:
    """An appointment event committed as a change would commit it; its row id."""
    now = datetime.now(UTC)
    payload = AppointmentPayload(
        appointment_id=appointment_id,
        customer_id=1,
        status=status,
        starts_at=now,
        ends_at=now,
        version=1,
        service=None,
        resource=None,
    )
    async with sessions() as session, session.begin():
        row = event_store.record(
            session, business_id, f"appointment.{status}", ("appointment", appointment_id), now, payload
        )
        await session.flush()
        return row.id
