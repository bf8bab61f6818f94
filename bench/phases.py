"""Where a reminder's lateness goes, read from its workflow's history: due -> timer set for -> timer fired ->
send scheduled -> send started -> completed (seconds after the due instant), whether a task timed out on
the way, and how many timers fired before due (a worker clock ahead of the server's: the workflow then
slept the rest, and "fired" is the timer that fired at or after due). "Timer set for" is the instant the
server will fire the timer: its TimerStarted event's time (when the workflow task that started it
completed) plus its duration, which the workflow computed from ``workflow.now()`` (when that task started)
or, for a planned reminder, from the worker's clock when it was planned (workflows.delivery.aim_from); so
it is late by the part of that task's time in the worker that came after it."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client

from domain.ids import appointment_workflow_id

_TIMEOUTS = {EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT, EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT}


@dataclass
class Phases:
    """Seconds from the due instant to each step of one reminder, read from its workflow's history."""

    set_for: float | None = None
    set_task: float | None = None  # how long the workflow task that started that timer ran (started -> done)
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
    timers: dict[int, tuple[datetime, float]] = {}  # TimerStarted id -> (set for, its task's run time)
    task_started = datetime.min.replace(tzinfo=UTC)
    for event in events:
        at = event.event_time.ToDatetime(tzinfo=UTC)
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
            task_started = at
        elif event.event_type == EventType.EVENT_TYPE_TIMER_STARTED:
            timeout = event.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta()
            timers[event.event_id] = (at + timeout, (at - task_started).total_seconds())
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


def percentile(ordered: list[float], fraction: float) -> float:
    """The value at ``fraction`` (0.95, 0.99) of an already sorted, non-empty list (nearest rank)."""
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def quantiles(values: list[float]) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    p99 = percentile(ordered, 0.99)
    return f"p50 {statistics.median(ordered):.2f} s / p99 {p99:.2f} s / max {ordered[-1]:.2f} s"
