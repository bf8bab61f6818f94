"""Tracing set-up in one place: one TracerProvider per process, exporter chosen by configuration, and the
maintained OpenTelemetry instrumentations (opentelemetry-python-contrib) for what we talk through: the aiohttp
server (a SERVER span per API request, continuing the caller's W3C trace context), the aiohttp client
(provider calls) and asyncpg (every query). Temporal's own spans come from its TracingInterceptor
(keeptime.temporal_client), so one request is one trace from the API to the activity's SQL."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

from keeptime.settings import Settings

_provider: TracerProvider | None = None


def setup_tracing(
    settings: Settings, component: str, *, processor: SpanProcessor | None = None
) -> TracerProvider | None:
    """Install the global TracerProvider once (later calls return it and may add a processor).

    ``OTEL_TRACES_EXPORTER`` picks ``none``, ``console`` or ``otlp``; the OTLP exporter reads the standard
    ``OTEL_EXPORTER_OTLP_ENDPOINT`` (e.g. ``http://localhost:4318``). With ``none`` (the default) and no
    ``processor`` nothing is installed or instrumented: spans that nobody exports cost the worker about a
    tenth of its CPU under load (bench/load.py, README "Benchmarks"), and the OpenTelemetry API's no-op
    tracer still carries an incoming trace context through.
    """
    global _provider
    if _provider is None and settings.otel_traces_exporter == "none" and processor is None:
        return None
    if _provider is None:
        resource = Resource.create(
            {
                "service.name": settings.otel_service_name,
                "service.namespace": "keeptime",
                "keeptime.component": component,
            }
        )
        _provider = TracerProvider(resource=resource)
        exporter_name = settings.otel_traces_exporter
        if exporter_name == "console":
            _provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
        elif exporter_name == "otlp":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            _provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        trace.set_tracer_provider(_provider)
        _instrument_libraries()
    if processor is not None:
        _provider.add_span_processor(processor)
    return _provider


def _instrument_libraries() -> None:
    """Before the API builds its application: the server instrumentation wraps ``web.Application``."""
    from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
    from opentelemetry.instrumentation.aiohttp_server import AioHttpServerInstrumentor
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor

    asyncpg_instrumentor = AsyncPGInstrumentor()  # type: ignore[no-untyped-call]
    for instrumentor in (AioHttpServerInstrumentor(), AioHttpClientInstrumentor(), asyncpg_instrumentor):
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument()


def tracing_installed() -> bool:
    """Whether spans are recorded in this process (``setup_tracing`` installed a provider)."""
    return _provider is not None


def shutdown_tracing() -> None:
    if _provider is not None:
        _provider.shutdown()
