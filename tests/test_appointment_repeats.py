"""Repeating a steering call has the effect of doing it once: no new version, no second notice, no resend.

On the time-skipping (v2) dev server with the real activities and peers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.testing import WorkflowEnvironment

from db.engine import SessionFactory
from domain.appointment_types import CancelInput, RescheduleInput, StepInput
from keeptime.settings import Settings
from services.appointments import CancelAccepted, cancel_and_wait
from tests.appointment_support import booked, db_status, log_of, until_next
from tests.peers import ProviderPeer, SmtpPeer
from tests.support import running_worker
from tests.test_appointment_workflow import finished, rejected
from workflows.appointment import AppointmentWorkflow


async def test_same_slot_reschedule_after_a_reminder_changes_nothing_and_sends_nothing(
    skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
) -> None:
    _, http = peers
    async with running_worker(skipping_env.client, sessions, provider_settings):
        with skipping_env.with_time_skipping_disabled():
            _, _, appointment, handle = await booked(sessions, skipping_env.client)
        await skipping_env.fast_forward(handle, timedelta(days=1, minutes=5))
        view = await until_next(handle, "reminder")
        assert view.messages[-1].event == "appointment.reminder_24h"
        same = RescheduleInput(starts_at=view.starts_at, ends_at=view.ends_at)
        for _ in range(3):
            again = await handle.execute_update(AppointmentWorkflow.reschedule, same)
            assert (again.version, again.starts_at, again.ends_at) == (1, view.starts_at, view.ends_at)
        await skipping_env.fast_forward(handle, timedelta(days=3))
        final = await finished(handle)
    assert final.version == 1
    assert [event for event, _, _ in await log_of(sessions, appointment.id)] == [
        "appointment.booked",
        "appointment.admin_new_booking",
        "appointment.reminder_24h",
        "appointment.reminder_2h",
        "appointment.no_show",
    ]
    assert len(http.accepted["sms"]) == 4  # booked, two reminders, no-show: nothing twice


async def test_rescheduled_away_and_back_never_sends_a_slots_reminder_twice(
    skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
) -> None:
    async with running_worker(skipping_env.client, sessions, provider_settings):
        with skipping_env.with_time_skipping_disabled():
            _, _, appointment, handle = await booked(sessions, skipping_env.client)
        await skipping_env.fast_forward(handle, timedelta(days=1, minutes=5))
        view = await until_next(handle, "reminder")
        slot_a = RescheduleInput(starts_at=view.starts_at, ends_at=view.ends_at)
        hour = timedelta(hours=1)
        slot_b = RescheduleInput(starts_at=view.starts_at + hour, ends_at=view.ends_at + hour)
        assert (await handle.execute_update(AppointmentWorkflow.reschedule, slot_b)).version == 2
        assert (await handle.execute_update(AppointmentWorkflow.reschedule, slot_a)).version == 3
        await skipping_env.fast_forward(handle, timedelta(days=3))
        await finished(handle)
    log = await log_of(sessions, appointment.id)
    sent_24h = [row for row in log if row[0] == "appointment.reminder_24h" and row[1] == "sent"]
    assert len(sent_24h) == 1, log
    assert ("appointment.reminder_24h", "skipped", "already_sent_for_this_slot") in log
    assert [row[0] for row in log].count("appointment.rescheduled") == 2
    assert [row for row in log if row[0] == "appointment.reminder_2h" and row[1] == "sent"]


async def test_every_status_step_repeated_answers_the_same_state_and_notifies_once(
    skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
) -> None:
    async with running_worker(skipping_env.client, sessions, provider_settings):
        with skipping_env.with_time_skipping_disabled():
            _, _, appointment, handle = await booked(sessions, skipping_env.client, status="pending")
        await until_next(handle, "expire")
        by = StepInput(by="front desk")
        for update, status in [
            (AppointmentWorkflow.confirm, "confirmed"),
            (AppointmentWorkflow.check_in, "checked_in"),
            (AppointmentWorkflow.complete, "completed"),
        ]:
            first = await handle.execute_update(update, by)
            second = await handle.execute_update(update, by)
            assert (first.status, first.version) == (second.status, second.version) == (status, 1)
        await rejected(handle.execute_update(AppointmentWorkflow.confirm, by), "cannot confirm")
    events = [event for event, _, _ in await log_of(sessions, appointment.id)]
    assert events.count("appointment.confirmed") == 1


async def test_cancel_with_answer_repeated_cancels_once(
    skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
) -> None:
    async with running_worker(skipping_env.client, sessions, provider_settings):
        with skipping_env.with_time_skipping_disabled():
            _, _, appointment, handle = await booked(sessions, skipping_env.client)
        await until_next(handle, "reminder")
        request = CancelInput(reason="flu", by="customer")
        await handle.signal(AppointmentWorkflow.cancel, request)  # what the API sends first
        first = await handle.execute_update(AppointmentWorkflow.cancel_with_answer, request)
        assert first.status == "cancelled"
        final = await finished(handle)
    assert final.status == "cancelled"
    events = [event for event, _, _ in await log_of(sessions, appointment.id)]
    assert events.count("appointment.cancelled") == 1


async def test_a_cancel_nobody_can_answer_in_time_is_accepted_and_applied_later(
    skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
) -> None:
    """No worker polls when the API cancels: the answer is CancelAccepted (the API's 202), never a 5xx, and
    the recorded cancel is applied as soon as a worker is back."""
    async with running_worker(skipping_env.client, sessions, provider_settings, end_workflows=False):
        with skipping_env.with_time_skipping_disabled():
            _, _, appointment, handle = await booked(sessions, skipping_env.client)
        await until_next(handle, "reminder")
    with pytest.raises(CancelAccepted):
        await cancel_and_wait(skipping_env.client, appointment.id, CancelInput(reason="flu"), wait_s=1.0)
    async with running_worker(skipping_env.client, sessions, provider_settings):
        final = await finished(handle)
    assert final.status == "cancelled" and await db_status(sessions, appointment.id) == "cancelled"
