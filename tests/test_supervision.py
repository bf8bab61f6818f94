"""Supervision: the stack's restart policy (backoff, and when it gives up), and a worker that waits for
Temporal instead of exiting."""

from __future__ import annotations

import asyncio

import pytest
from temporalio.testing import WorkflowEnvironment

from keeptime.settings import Settings
from starter.supervision import CrashLoop, RestartPolicy
from tests.conftest import _binary
from tests.support import free_port
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
    env = await WorkflowEnvironment.start_local(dev_server_existing_path=_binary("temporal"), port=port)
    try:
        client = await asyncio.wait_for(waiting, 30)
        assert client is not None
        await client.service_client.check_health()
    finally:
        await env.shutdown()
    stop.set()  # asked to stop while Temporal is down: it returns nothing instead of raising
    assert await _connect_when_up(Settings(temporal_address=f"127.0.0.1:{free_port()}"), stop) is None
