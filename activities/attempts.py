"""One activity attempt, kept honest: it heartbeats while it runs and ends before Temporal gives up on it.

Temporal starts a retry when an attempt's start-to-close or heartbeat timeout passes, whether or not the
first attempt is still running on its worker ("Activity Timeouts" in Temporal's documentation: the server
cannot stop a running attempt, it only stops waiting for it). So an attempt that talks to a provider
heartbeats from a background task for its whole life (the heartbeat timeout then only fires when the worker
is gone), and cuts itself off ``margin_s`` before its start-to-close timeout, so its retry can only start
after it has ended.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

from temporalio import activity

HEARTBEAT_EVERY = timedelta(seconds=1)
MARGIN = timedelta(seconds=5)
# The heartbeat timeout for such attempts: how soon a dead worker's attempt is retried elsewhere. The worker
# flushes heartbeats at least every 2 s (worker.py), so a busy process has 4 s of slack.
HEARTBEAT_TIMEOUT = timedelta(seconds=6)


@contextlib.asynccontextmanager
async def bounded_attempt() -> AsyncIterator[None]:
    """Heartbeat every few seconds and raise TimeoutError before the start-to-close timeout."""
    if not activity.in_activity():
        yield
        return
    beats = asyncio.create_task(_beat())
    limit = activity.info().start_to_close_timeout
    budget = (limit - MARGIN).total_seconds() if limit is not None and limit > 2 * MARGIN else None
    try:
        async with asyncio.timeout(budget):
            yield
    finally:
        beats.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beats


async def _beat() -> None:
    # The first beat after HEARTBEAT_EVERY, not at once: the SDK core sends a task's first heartbeat to the
    # server immediately ("the first call will result in an immediate call to the server", sdk-core
    # activity_heartbeat_manager.rs), so beating at the start cost every send, however short, one
    # RecordActivityTaskHeartbeat and a mutable-state write on the server. The heartbeat timeout runs from
    # the attempt's start until its first beat, so a dead worker is noticed just as soon.
    while True:
        await asyncio.sleep(HEARTBEAT_EVERY.total_seconds())
        activity.heartbeat()
