"""The one way Keeptime connects to Temporal (worker, API and starter alike)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import Runtime
from temporalio.service import RPCError, TLSConfig

from keeptime.settings import Settings
from keeptime.telemetry import tracing_installed

Result = TypeVar("Result")


async def connect_temporal(
    settings: Settings, *, lazy: bool = False, runtime: Runtime | None = None
) -> Client:
    """A client with the pydantic data converter (dates, datetimes and models round-trip), Temporal's
    tracing interceptor when this process records spans (keeptime.telemetry), and TLS and an API key for
    Temporal Cloud or an mTLS server when configured."""
    api_key = settings.temporal_api_key.get_secret_value() if settings.temporal_api_key else None
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
        interceptors=[TracingInterceptor()] if tracing_installed() else [],
        lazy=lazy,
        api_key=api_key,
        tls=tls_config(settings),
        runtime=runtime,
    )


def tls_config(settings: Settings) -> TLSConfig | bool:
    """mTLS with the client certificate and key when set (Temporal Cloud's mTLS or a self-hosted server);
    plain TLS for an API key (Temporal Cloud requires it) or TEMPORAL_TLS=true; else none."""
    cert, key = settings.temporal_tls_client_cert, settings.temporal_tls_client_key  # both or neither
    if cert is None and settings.temporal_tls_server_ca is None:
        return bool(settings.temporal_tls or settings.temporal_api_key)
    return TLSConfig(
        client_cert=cert.read_bytes() if cert else None,
        client_private_key=key.read_bytes() if key else None,
        server_root_ca_cert=(
            settings.temporal_tls_server_ca.read_bytes() if settings.temporal_tls_server_ca else None
        ),
    )


async def query_or_none(client: Client, workflow_id: str, query: Callable[[Any], Result]) -> Result | None:
    """A workflow's query answer, or None when the workflow is gone or not answering (API reads)."""
    try:
        answer: Result = await client.get_workflow_handle(workflow_id).query(query)
    except (RPCError, WorkflowQueryFailedError):
        return None
    return answer
