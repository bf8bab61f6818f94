"""One API request produces one trace: API server span (OpenTelemetry's aiohttp-server instrumentation) ->
start workflow -> workflow -> activity -> its SQL (the asyncpg instrumentation)."""

from __future__ import annotations

from aiohttp.test_utils import TestClient, TestServer
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from api.app import create_app
from db.engine import SessionFactory
from keeptime.settings import Settings
from keeptime.telemetry import setup_tracing
from keeptime.temporal_client import connect_temporal
from tests.support import running_worker


async def test_health_check_request_is_one_trace_from_api_to_activity(
    settings: Settings, sessions: SessionFactory
) -> None:
    exporter = InMemorySpanExporter()
    setup_tracing(settings, "tests", processor=SimpleSpanProcessor(exporter))
    worker_client = await connect_temporal(settings)  # the worker's client carries the TracingInterceptor
    async with (
        running_worker(worker_client, sessions, settings),
        TestClient(TestServer(create_app(settings), host="127.0.0.1")) as api,
    ):
        response = await api.post("/v1/health-checks", headers={"Authorization": "Bearer dev-admin-key"})
        assert response.status == 200, await response.text()

    spans = exporter.get_finished_spans()
    server = [s for s in spans if s.kind == SpanKind.SERVER and s.name == "POST /v1/health-checks"]
    assert len(server) == 1
    trace_id = server[0].context.trace_id
    in_trace = {s.name for s in spans if s.context.trace_id == trace_id}
    assert {
        "StartWorkflow:DatabaseHealthCheckWorkflow",
        "RunWorkflow:DatabaseHealthCheckWorkflow",
        "StartActivity:check_database_health",
        "RunActivity:check_database_health",
    } <= in_trace, sorted(in_trace)
    queries = [
        s
        for s in spans
        if s.context.trace_id == trace_id
        and s.kind == SpanKind.CLIENT
        and (s.attributes or {}).get("db.system")
    ]
    assert queries, "the activity's queries are spans of the same trace"
    assert (server[0].attributes or {}).get("keeptime.request_id")
