"""The one way Keeptime connects to Temporal (worker, API and starter alike)."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.contrib.pydantic import pydantic_data_converter

from keeptime.settings import Settings


async def connect_temporal(settings: Settings, *, lazy: bool = False) -> Client:
    """A client with tracing and the pydantic data converter (dates, datetimes and models round-trip)."""
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
        interceptors=[TracingInterceptor()],
        lazy=lazy,
    )
