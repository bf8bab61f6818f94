"""The load benchmarks' phase breakdown, read from a history: how late the firing timer was set (and how long
the workflow task that set it ran), then fired -> send scheduled -> started -> completed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp
from temporalio.api.common.v1 import ActivityType, Payload, Payloads
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import (
    ActivityTaskCompletedEventAttributes,
    ActivityTaskScheduledEventAttributes,
    ActivityTaskStartedEventAttributes,
    HistoryEvent,
    MarkerRecordedEventAttributes,
    TimerFiredEventAttributes,
    TimerStartedEventAttributes,
)

from bench.phases import phases_of

DUE = datetime(2026, 12, 4, 7, 0, tzinfo=UTC)


def _event(
    event_id: int, offset_s: float, event_type: EventType.ValueType, **attributes: object
) -> HistoryEvent:
    at = Timestamp()
    at.FromDatetime(DUE + timedelta(seconds=offset_s))
    return HistoryEvent(event_id=event_id, event_time=at, event_type=event_type, **attributes)  # type: ignore[arg-type]


def _timer_started(event_id: int, offset_s: float, fire_in_s: float) -> HistoryEvent:
    timeout = Duration()
    timeout.FromTimedelta(timedelta(seconds=fire_in_s))
    return _event(
        event_id,
        offset_s,
        EventType.EVENT_TYPE_TIMER_STARTED,
        timer_started_event_attributes=TimerStartedEventAttributes(
            timer_id=str(event_id), start_to_fire_timeout=timeout
        ),
    )


def _reminder_history(task_started_s: float, timer_started_s: float, fire_in_s: float) -> list[HistoryEvent]:
    send = ActivityTaskScheduledEventAttributes(activity_type=ActivityType(name="send_notification"))
    return [
        # an earlier task and timer, long before
        _event(1, -3600, EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED),
        _timer_started(2, -3599.9, 1.0),
        _event(
            3,
            -3598.8,
            EventType.EVENT_TYPE_TIMER_FIRED,
            timer_fired_event_attributes=TimerFiredEventAttributes(started_event_id=2),
        ),
        _event(4, task_started_s, EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED),
        _timer_started(5, timer_started_s, fire_in_s),
        _event(
            6,
            timer_started_s + fire_in_s + 0.01,
            EventType.EVENT_TYPE_TIMER_FIRED,
            timer_fired_event_attributes=TimerFiredEventAttributes(started_event_id=5),
        ),
        _event(
            7,
            0.9,
            EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
            activity_task_scheduled_event_attributes=send,
        ),
        _event(
            8,
            1.0,
            EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED,
            activity_task_started_event_attributes=ActivityTaskStartedEventAttributes(
                scheduled_event_id=7, attempt=1
            ),
        ),
        _event(
            9,
            1.2,
            EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
            activity_task_completed_event_attributes=ActivityTaskCompletedEventAttributes(
                scheduled_event_id=7
            ),
        ),
    ]


def test_a_timer_set_by_a_slow_task_is_set_late_by_the_time_that_task_ran() -> None:
    # The task started 3,600 s before due and computed a delay of exactly 3,600 s from its start, but the
    # server started the timer when the task completed, 0.7 s later: the timer is set for due + 0.7 s.
    phases = phases_of(
        _reminder_history(task_started_s=-3600.0, timer_started_s=-3599.3, fire_in_s=3600.0), DUE
    )
    assert phases.set_for is not None and phases.set_task is not None and phases.fired is not None
    assert abs(phases.set_task - 0.7) < 1e-6
    assert abs(phases.set_for - 0.7) < 1e-6
    assert abs(phases.fired - 0.71) < 1e-6
    assert (phases.scheduled, phases.started, phases.completed) == pytest.approx((0.9, 1.0, 1.2))
    assert not phases.hit


def test_a_timer_set_on_time_has_no_set_lateness() -> None:
    phases = phases_of(_reminder_history(task_started_s=-60.0, timer_started_s=-59.95, fire_in_s=59.95), DUE)
    assert phases.set_for is not None and abs(phases.set_for) < 1e-6
    assert phases.set_task is not None and abs(phases.set_task - 0.05) < 1e-6


def test_a_timer_that_fired_before_due_is_counted_and_the_next_one_is_the_firing_timer() -> None:
    # the task woken by the early timer sleeps the remaining 5 ms: its timer fires 10 ms after due
    events = _reminder_history(task_started_s=-0.004, timer_started_s=-0.003, fire_in_s=0.003)
    early = [  # a first timer, aimed from a worker clock 5 ms ahead, fired 5 ms before due
        _event(10, -3500.0, EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED),
        _timer_started(11, -3499.9, 3499.895),
        _event(
            12,
            -0.005,
            EventType.EVENT_TYPE_TIMER_FIRED,
            timer_fired_event_attributes=TimerFiredEventAttributes(started_event_id=11),
        ),
    ]
    phases = phases_of([*events[:3], *early, *events[3:]], DUE)
    assert phases.early_fires == 1
    assert phases.set_for is not None and abs(phases.set_for) < 1e-6  # the second timer's
    assert phases.fired is not None and abs(phases.fired - 0.01) < 1e-6


def _plan_marker(event_id: int, offset_s: float, scheduled_s: float, planned_s: float | None) -> HistoryEvent:
    """A planning local activity's marker as sdk-core writes it (JSON data, the plan as its result)."""
    scheduled = DUE + timedelta(seconds=scheduled_s)
    data = {
        "seq": 3,
        "activity_type": "plan_notification",
        "original_schedule_time": {
            "seconds": int(scheduled.timestamp()),
            "nanos": scheduled.microsecond * 1000,
        },
    }
    result: dict[str, object] = {"deliver_at": DUE.isoformat(), "skipped": None}
    if planned_s is not None:
        result["planned_at"] = (DUE + timedelta(seconds=planned_s)).isoformat().replace("+00:00", "Z")
    details = {
        "data": Payloads(payloads=[Payload(data=json.dumps(data).encode())]),
        "result": Payloads(payloads=[Payload(data=json.dumps(result).encode())]),
    }
    return _event(
        event_id,
        offset_s,
        EventType.EVENT_TYPE_MARKER_RECORDED,
        marker_recorded_event_attributes=MarkerRecordedEventAttributes(
            marker_name="core_local_activity", details=details
        ),
    )


def test_the_task_that_set_the_timer_is_split_at_its_plan() -> None:
    events = _reminder_history(task_started_s=-60.0, timer_started_s=-59.5, fire_in_s=59.6)
    # the task started at -60.0, scheduled its plan 0.3 s later, the plan took 0.05 s
    events.insert(4, _plan_marker(40, -59.5, scheduled_s=-59.7, planned_s=-59.65))
    phases = phases_of(events, DUE)
    assert phases.set_task is not None and abs(phases.set_task - 0.5) < 1e-6
    assert phases.plan_wait is not None and abs(phases.plan_wait - 0.3) < 1e-6
    assert phases.plan_ran is not None and abs(phases.plan_ran - 0.05) < 1e-6


def test_a_plan_recorded_before_planned_at_existed_has_no_plan_time() -> None:
    events = _reminder_history(task_started_s=-60.0, timer_started_s=-59.5, fire_in_s=59.6)
    events.insert(4, _plan_marker(40, -59.5, scheduled_s=-59.7, planned_s=None))
    phases = phases_of(events, DUE)
    assert phases.plan_wait is not None and abs(phases.plan_wait - 0.3) < 1e-6
    assert phases.plan_ran is None
