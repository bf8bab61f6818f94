"""A reminder's timer is measured from the worker's clock at planning, and still never fires a send early.

The pure rule (``workflows.delivery.aim_from``) gets unit tests; the time-skipping server shows the guard
for a worker whose clock runs ahead of the server's: the timer fires early, the workflow sleeps the rest.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from activities import notifications
from db.engine import SessionFactory
from domain.notification_types import DeliveryPlan, NotificationRequest
from keeptime.settings import Settings
from tests.appointment_support import booked, eventually, log_of, until_next
from tests.peers import ProviderPeer, SmtpPeer
from tests.support import running_worker
from workflows.delivery import aim_from

T0 = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


def test_a_plan_without_the_workers_clock_is_measured_from_workflow_now() -> None:
    """Plans recorded before planned_at existed: their histories replay to the same timers."""
    assert aim_from(T0, DeliveryPlan(deliver_at=T0 + timedelta(days=1))) == T0


def test_the_later_of_the_two_clocks_is_used() -> None:
    later = T0 + timedelta(milliseconds=700)  # the task waited 0.7 s before its local activity ran
    plan = DeliveryPlan(deliver_at=T0 + timedelta(days=1), planned_at=later)
    assert aim_from(T0, plan) == later
    behind = plan.model_copy(update={"planned_at": T0 - timedelta(seconds=5)})
    assert aim_from(T0, behind) == T0  # a worker clock behind the server's changes nothing


async def test_a_worker_clock_ahead_of_the_servers_does_not_send_early(
    skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ahead = timedelta(hours=1)
    monkeypatch.setattr(notifications, "planning_clock", lambda: datetime.now(UTC) + ahead)
    env = skipping_env
    async with running_worker(env.client, sessions, provider_settings):
        with env.with_time_skipping_disabled():
            _business, _customer, appointment, handle = await booked(sessions, env.client)
        await until_next(handle, "reminder")
        await env.fast_forward(handle, timedelta(days=1, minutes=30))

        async def reminded() -> bool:
            events = [event for event, _, _ in await log_of(sessions, appointment.id)]
            return "appointment.reminder_24h" in events

        await eventually(reminded, what="the 24 h reminder")
        history = await handle.fetch_history()
    due = appointment.starts_at - timedelta(hours=24)
    sends = [
        event.event_time.ToDatetime(UTC)
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        and event.activity_task_scheduled_event_attributes.activity_type.name == "send_notification"
        and _request(event.activity_task_scheduled_event_attributes.input.payloads[0].data)
        == ("appointment.reminder", "24h")
    ]
    timers = [
        event.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta()
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_TIMER_STARTED
    ]
    assert len(sends) == 1 and sends[0] >= due, (sends, due)
    # The first wait was measured from the worker's clock, an hour short; the second slept the rest.
    assert any(abs(timer - ahead) < timedelta(minutes=1) for timer in timers), timers


def _request(data: bytes) -> tuple[str, str | None]:
    request = NotificationRequest.model_validate_json(data)
    return request.event, request.variant
