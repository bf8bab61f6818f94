"""Small helpers the tests share (no fixtures here)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import aiohttp
from sqlalchemy.engine import make_url
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.worker import Worker

from activities.notifications import Checkpoint
from db.engine import SessionFactory
from keeptime.settings import Settings
from worker import build_workers

# The SDK waits 5 s for a dev or test server it spawned to answer. Three test processes starting servers and
# PostgreSQL at once on 2 cores can take longer: CI lost every test of one xdist worker to a dev server that
# was not up within 5 s. A server that does not come up at all still fails the fixture, after this.
SERVER_STARTUP = timedelta(seconds=60)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def database_url_named(server_url: str, database: str) -> str:
    return make_url(server_url).set(database=database).render_as_string(hide_password=False)


@asynccontextmanager
async def running_worker(
    client: Client,
    sessions: SessionFactory,
    settings: Settings,
    *,
    checkpoint: Checkpoint | None = None,
    end_workflows: bool = True,
) -> AsyncIterator[list[Worker]]:
    """The production workers (every queue, with its workflows and activities) running against ``client``;
    yields them.

    On exit it terminates what is still running (``end_workflows``), unless the test restarts the worker
    and means its workflows to carry on."""
    async with aiohttp.ClientSession() as http:
        workers = build_workers(client, sessions, settings, http, checkpoint=checkpoint)
        tasks = [asyncio.create_task(w.run()) for w in workers]
        try:
            yield workers
        finally:
            if end_workflows:
                await terminate_running(client)
            await asyncio.gather(*(w.shutdown() for w in workers))
            await asyncio.gather(*tasks, return_exceptions=True)


async def terminate_running(client: Client) -> None:
    """End what a test left running, so the next test's worker does not pick it up against emptied tables."""
    try:
        async for execution in client.list_workflows('ExecutionStatus="Running"'):
            with contextlib.suppress(RPCError):
                await client.get_workflow_handle(execution.id, run_id=execution.run_id).terminate(
                    "test ended"
                )
    except RPCError:
        pass  # the Java test server has no visibility queries; its tests do not leave workflows running


async def began_new_run(handle: Any, first_run_id: str | None, query: Any) -> bool:
    """The workflow continued as new and its new run has begun: it answers ``query`` (before its first
    workflow task the server answers "Workflow task is not scheduled yet")."""
    if (await handle.describe()).run_id == first_run_id:
        return False
    try:
        await handle.query(query)
    except RPCError:
        return False
    return True
