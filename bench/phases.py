"""Where a reminder's lateness goes, read from its workflow's history: due -> timer set for -> timer fired ->
send scheduled -> send started -> completed (seconds after the due instant), whether a task timed out on
the way, and how many timers fired before due (a worker clock ahead of the server's: the workflow then
slept the rest, and "fired" is the timer that fired at or after due). "Timer set for" is the instant the
server will fire the timer: its TimerStarted event's time (when the workflow task that started it
completed) plus its duration, which the workflow computed from ``workflow.now()`` (when that task started)
or, for a planned reminder, from the worker's clock when it was planned (workflows.delivery.aim_from); so
it is late by the part of that task's time in the worker that came after it."""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client

from domain.ids import appointment_workflow_id
from domain.notification_types import DeliveryPlan

_TIMEOUTS = {EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT, EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT}


@dataclass
class Phases:
    """Seconds from the due instant to each step of one reminder, read from its workflow's history."""

    set_for: float | None = None
    set_task: float | None = None  # how long the workflow task that started that timer ran (started -> done)
    # of that task, when it planned the message (a local activity): its start -> the plan scheduled, and the
    # plan scheduled -> done (the worker's clock the plan carries, DeliveryPlan.planned_at)
    plan_wait: float | None = None
    plan_ran: float | None = None
    fired: float | None = None
    scheduled: float | None = None
    started: float | None = None
    completed: float | None = None
    hit: bool = False  # a task timed out on the way (the dead worker held it), or the send was retried
    early_fires: int = 0  # timers that fired before due by the server's clock (the workflow slept the rest)


async def reminder_phases(client: Client, appointment_id: int, due: datetime) -> Phases:
    """The reminder's path after ``due``: the timer that fired at or after it, the next send activity."""
    history = await client.get_workflow_handle(appointment_workflow_id(appointment_id)).fetch_history()
    return phases_of(history.events, due)


def phases_of(events: Iterable[HistoryEvent], due: datetime) -> Phases:
    """``reminder_phases`` on a history's events."""
    phases = Phases()
    send_id: int | None = None
    # TimerStarted id -> (set for, its task's run time, that task's plan: wait, ran)
    timers: dict[int, tuple[datetime, float, float | None, float | None]] = {}
    task_started = datetime.min.replace(tzinfo=UTC)
    plan: tuple[float | None, float | None] = (None, None)
    for event in events:
        at = event.event_time.ToDatetime(tzinfo=UTC)
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
            task_started, plan = at, (None, None)
        elif event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED:
            plan = _plan_times(event, task_started) or plan
        elif event.event_type == EventType.EVENT_TYPE_TIMER_STARTED:
            timeout = event.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta()
            timers[event.event_id] = (at + timeout, (at - task_started).total_seconds(), *plan)
        offset = (at - due).total_seconds()
        if offset < -1:
            continue
        if event.event_type in _TIMEOUTS and phases.completed is None:
            phases.hit = True
        if event.event_type == EventType.EVENT_TYPE_TIMER_FIRED and phases.fired is None and offset < 0:
            phases.early_fires += 1
        elif event.event_type == EventType.EVENT_TYPE_TIMER_FIRED and phases.fired is None:
            phases.fired = offset
            timer = timers.get(event.timer_fired_event_attributes.started_event_id)
            if timer is not None:
                phases.set_for, phases.set_task = (timer[0] - due).total_seconds(), timer[1]
                phases.plan_wait, phases.plan_ran = timer[2], timer[3]
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


def _plan_times(event: HistoryEvent, task_started: datetime) -> tuple[float | None, float | None] | None:
    """For a planning local activity's marker: (its task's start -> the plan scheduled, scheduled -> the
    plan's ``planned_at``), in seconds; None for any other marker. sdk-core writes the marker's data as JSON
    with ``original_schedule_time`` (the worker's clock when the workflow scheduled the activity), so the
    first figure compares the worker's clock with the server's: the bench runs both on one box."""
    details = event.marker_recorded_event_attributes.details
    if "data" not in details or not details["data"].payloads:
        return None
    data = json.loads(details["data"].payloads[0].data)
    if not isinstance(data, dict) or data.get("activity_type") != "plan_notification":
        return None
    scheduled_at = data.get("original_schedule_time") or {}
    scheduled = datetime.fromtimestamp(
        scheduled_at.get("seconds", 0) + scheduled_at.get("nanos", 0) / 1e9, tz=UTC
    )
    planned_at = None
    if "result" in details and details["result"].payloads:
        planned_at = DeliveryPlan.model_validate_json(details["result"].payloads[0].data).planned_at
    ran = (planned_at - scheduled).total_seconds() if planned_at is not None else None
    return (scheduled - task_started).total_seconds(), ran


def percentile(ordered: list[float], fraction: float) -> float:
    """The value at ``fraction`` (0.95, 0.99) of an already sorted, non-empty list (nearest rank)."""
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def quantiles(values: list[float]) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    p99 = percentile(ordered, 0.99)
    return f"p50 {statistics.median(ordered):.2f} s / p99 {p99:.2f} s / max {ordered[-1]:.2f} s"
