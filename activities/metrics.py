"""Keeptime's own worker metrics, emitted through the Temporal SDK's metric meter.

They leave the worker by the same Prometheus endpoint as the SDK's own metrics (the runtime's telemetry,
``worker.py``), labelled by the SDK with namespace, task queue, workflow and activity type; outside an
activity (unit tests) they go nowhere. Names as Prometheus shows them (counters get ``_total``):

- ``keeptime_messages_total{channel, event, outcome, reason}``: every message's end (sent, skipped, ...)
- ``keeptime_message_lateness_seconds{channel, event}``: due -> accepted by the provider, sent messages only
- ``keeptime_provider_request_seconds{provider, outcome}``: each provider call (ok, rejected, transient,
  ambiguous)
"""

from __future__ import annotations

from datetime import UTC, datetime

from temporalio import activity
from temporalio.common import MetricMeter

from domain.notification_types import NotificationRequest, NotificationResult

MESSAGES = "keeptime_messages"
LATENESS = "keeptime_message_lateness_seconds"
PROVIDER_REQUEST = "keeptime_provider_request_seconds"

# Prometheus histogram buckets (the runtime's exporter takes them by metric name).
HISTOGRAM_BUCKETS: dict[str, list[float]] = {
    LATENESS: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 3600],
    PROVIDER_REQUEST: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
}


def _meter() -> MetricMeter:
    return activity.metric_meter() if activity.in_activity() else MetricMeter.noop


def record_message(request: NotificationRequest, result: NotificationResult) -> None:
    """Count the message's outcome; for a sent one with a due instant, observe how late it went out."""
    meter = _meter()
    channel = result.channel or "none"
    reason = (result.reason or "-").split(":", 1)[0][:40]  # the reason's kind, never its free text
    meter.create_counter(MESSAGES, "messages by channel, event and outcome").add(
        1, {"channel": channel, "event": request.event_name, "outcome": result.status, "reason": reason}
    )
    if result.status == "sent" and request.due_at is not None:
        late = max(0.0, (datetime.now(UTC) - request.due_at).total_seconds())
        meter.create_histogram_float(LATENESS, "due -> accepted by the provider", "s").record(
            late, {"channel": channel, "event": request.event_name}
        )


def record_provider_call(provider: str, outcome: str, seconds: float) -> None:
    _meter().create_histogram_float(PROVIDER_REQUEST, "provider request duration by outcome", "s").record(
        seconds, {"provider": provider, "outcome": outcome}
    )
