"""The one way Keeptime connects to Temporal (worker, API and starter alike)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError

from keeptime.settings import Settings

Result = TypeVar("Result")


async def connect_temporal(settings: Settings, *, lazy: bool = False) -> Client:
    """A client with tracing and the pydantic data converter (dates, datetimes and models round-trip)."""
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
        interceptors=[TracingInterceptor()],
        lazy=lazy,
    )


async def query_or_none(client: Client, workflow_id: str, query: Callable[[Any], Result]) -> Result | None:
    """A workflow's query answer, or None when the workflow is gone or not answering (API reads)."""
    try:
        answer: Result = await client.get_workflow_handle(workflow_id).query(query)
    except (RPCError, WorkflowQueryFailedError):
        return None
    return answer
