"""One way workflows call their short database activities: typed, with the same timeouts and retries."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy

Arg = TypeVar("Arg")
Result = TypeVar("Result")
DB_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))


async def call_db(
    method: Callable[[Any, Arg], Awaitable[Result]], arg: Arg, summary: str, *, queue: str
) -> Result:
    """Run a database activity (a method of an activities class) with a short timeout and patient retries."""
    return await workflow.execute_activity_method(
        method,
        arg,
        task_queue=queue,
        start_to_close_timeout=timedelta(seconds=30),
        retry_policy=DB_RETRY,
        summary=summary,
    )
