"""Supervision: the stack's restart policy (backoff, and when it gives up), and a worker that waits for
Temporal instead of exiting."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from keeptime.settings import Settings
from starter.supervision import CrashLoop, RestartPolicy
from tests.conftest import _binary
from tests.support import SERVER_STARTUP, free_port
from worker import _connect_when_up


def test_restarts_back_off_and_a_crash_loop_stops_the_stack() -> None:
    policy = RestartPolicy(max_restarts=5, window_s=120)
    assert [policy.next_delay(float(n)) for n in range(5)] == [1.0, 2.0, 4.0, 8.0, 16.0]
    with pytest.raises(CrashLoop, match="5 restarts within 120 s"):
        policy.next_delay(5.0)


def test_a_child_that_stays_up_is_forgiven_its_old_crashes() -> None:
    policy = RestartPolicy(max_restarts=3, window_s=60)
    assert [policy.next_delay(t) for t in (0.0, 1.0, 2.0)] == [1.0, 2.0, 4.0]
    assert policy.next_delay(200.0) == 1.0  # the earlier restarts are outside the window


async def test_a_worker_started_before_temporal_waits_for_it_instead_of_exiting() -> None:
    port = free_port()
    stop = asyncio.Event()
    waiting = asyncio.create_task(_connect_when_up(Settings(temporal_address=f"127.0.0.1:{port}"), stop))
    await asyncio.sleep(1.5)
    assert not waiting.done()  # nothing listens yet: it keeps trying
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=_binary("temporal"), port=port, dev_server_startup_timeout=SERVER_STARTUP
    )
    try:
        client = await asyncio.wait_for(waiting, 30)
        assert client is not None
        await client.service_client.check_health()
    finally:
        await env.shutdown()
    stop.set()  # asked to stop while Temporal is down: it returns nothing instead of raising
    assert await _connect_when_up(Settings(temporal_address=f"127.0.0.1:{free_port()}"), stop) is None


_RESTART_BY_HAND = """
import ctypes, os, sys
from pathlib import Path
from db.embedded import EmbeddedPostgres

# Be the subreaper of our orphans, as init is on a real machine (this sandbox's init reaps nothing): the
# postmaster an operator's restart replaces is then really gone, as it is on a server.
ctypes.CDLL(None).prctl(36, 1)  # PR_SET_CHILD_SUBREAPER
pgdata = Path(sys.argv[1])
server = EmbeddedPostgres(pgdata)
first = int((pgdata / "postmaster.pid").read_text().split()[0])
server.restart()  # `pg_ctl restart -m fast`: a new postmaster the library did not start
while True:  # reap the replaced postmaster
    try:
        if os.waitpid(-1, os.WNOHANG) == (0, 0):
            break
    except ChildProcessError:
        break
again = int((pgdata / "postmaster.pid").read_text().split()[0])
server.stop()
print(first != again, server.running())
"""


def test_a_postgresql_restarted_by_hand_is_stopped_with_the_stack(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _RESTART_BY_HAND, str(tmp_path / "pgdata")],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert done.stdout.split() == ["True", "False"], done.stdout + done.stderr


async def test_the_api_starts_while_temporal_is_down_and_is_ready_once_it_is_up(database_url: str) -> None:
    """Started before its server (a deploy, a restart), the API serves /healthz at once, /readyz says what is
    missing (503, JSON), and when Temporal comes up the
    same process is ready, with no restart."""
    port = free_port()
    settings = Settings(database_url=database_url, temporal_address=f"127.0.0.1:{port}")
    async with TestClient(TestServer(create_app(settings), host="127.0.0.1")) as api:
        assert (await api.get("/healthz")).status == 200
        not_ready = await api.get("/readyz")
        body = await not_ready.json()
        assert not_ready.status == 503
        assert body["checks"]["postgres"] == {"ok": True} and not body["checks"]["temporal"]["ok"]
        env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=_binary("temporal"), port=port, dev_server_startup_timeout=SERVER_STARTUP
        )
        try:
            for _ in range(60):  # the client reconnects with its own backoff
                ready = await api.get("/readyz")
                if ready.status == 200:
                    break
                await asyncio.sleep(0.5)
            assert ready.status == 200, await ready.text()
        finally:
            await env.shutdown()
