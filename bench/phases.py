"""Where a reminder's lateness goes, read from its workflow's history: due -> timer fired -> send scheduled ->
send started -> completed (seconds after the due instant), and whether a task timed out on the way."""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from datetime import UTC, datetime

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client

from domain.ids import appointment_workflow_id

LOCAL_ACTIVITY_MARKER = "core_local_activity"  # sdk-core's marker name for a local activity's outcome
_TIMEOUTS = {EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT, EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT}


@dataclass
class Phases:
    """Seconds from the due instant to each step of one reminder, read from its workflow's history."""

    fired: float | None = None
    scheduled: float | None = None
    started: float | None = None
    completed: float | None = None
    hit: bool = False  # a task timed out on the way (the dead worker held it), or the send was retried


async def reminder_phases(client: Client, appointment_id: int, due: datetime) -> Phases:
    """The reminder's path after ``due``: the timer that fired at or after it, the next send activity. A
    send tried first as a local activity (``workflows.delivery.send_now(quick=True)``) has no activity
    events: its marker, recorded when the workflow task completed, ends it, and it was scheduled and
    started when the worker took that workflow task; if the try handed over, the queued send's events
    follow and count instead."""
    phases = Phases()
    history = await client.get_workflow_handle(appointment_workflow_id(appointment_id)).fetch_history()
    send_id: int | None = None
    task_started: float | None = None
    for event in history.events:
        at = event.event_time.ToDatetime(tzinfo=UTC)
        offset = (at - due).total_seconds()
        if offset < -1:
            continue
        if event.event_type in _TIMEOUTS and phases.completed is None:
            phases.hit = True
        if event.event_type == EventType.EVENT_TYPE_TIMER_FIRED and phases.fired is None:
            phases.fired = offset
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED and phases.fired is not None:
            task_started = offset
        elif (
            event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
            and send_id is None
            and task_started is not None
            and _local_send_succeeded(event)
        ):
            phases.scheduled = phases.started = task_started
            phases.completed = offset
            break
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED and send_id is None:
            name = event.activity_task_scheduled_event_attributes.activity_type.name
            if name == "send_notification" and phases.fired is not None:
                send_id, phases.scheduled = event.event_id, offset
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED and send_id is not None:
            attributes = event.activity_task_started_event_attributes
            if attributes.scheduled_event_id == send_id:
                phases.started = offset
                phases.hit = phases.hit or attributes.attempt > 1
        elif (
            event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED
            and event.activity_task_completed_event_attributes.scheduled_event_id == send_id
        ):
            phases.completed = offset
            break
    return phases


def _local_send_succeeded(event: HistoryEvent) -> bool:
    """A local activity's marker for ``send_notification`` that carries a result (not a failure). The
    marker's ``data`` is sdk-core's JSON (``LocalActivityMarkerData``: seq, attempt, activity_id,
    activity_type, complete_time, ...), its result under ``result``, a failure in ``failure``."""
    attributes = event.marker_recorded_event_attributes
    if attributes.marker_name != LOCAL_ACTIVITY_MARKER or attributes.HasField("failure"):
        return False
    data = attributes.details.get("data")
    if data is None or not data.payloads:
        return False
    return bool(json.loads(data.payloads[0].data).get("activity_type") == "send_notification")


def quantiles(values: list[float]) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return f"p50 {statistics.median(ordered):.2f} s / p99 {p99:.2f} s / max {ordered[-1]:.2f} s"
