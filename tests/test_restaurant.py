"""The restaurant predecessor's story on the real AppointmentWorkflow (v2 time-skipping server): attendance
``assume_attended`` completes a confirmed reservation 35 minutes after its start, with no no-show and no fee.

Predecessor: new reservation -> admin e-mail; admin confirms -> customer e-mail "confirmed"; cancel ->
customer e-mail "cancelled"; a confirmed reservation completes automatically 35 minutes after its start."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from db.engine import SessionFactory
from db.models import Appointment, AppointmentFee
from domain.appointment_types import CancelInput, StepInput
from keeptime.settings import Settings
from tests.appointment_support import booked, eventually, log_of, state, until_next
from tests.peers import ProviderPeer, SmtpPeer
from tests.support import running_worker
from tests.test_appointment_workflow import finished
from workflows.appointment import AppointmentWorkflow

RESTAURANT: dict[str, Any] = {
    "booking_mode": "require_confirmation",
    "attendance": "assume_attended",
    "auto_complete_delay_s": 35 * 60,
    "reminder_offsets_s": [2 * 3600],
}


async def _completed(handle: Any) -> bool:
    return (await state(handle)).status == "completed"


def _to(smtp: SmtpPeer) -> list[tuple[str, str]]:
    return [(str(m["To"]), str(m["Subject"])) for m in smtp.messages]


async def test_reservations_are_confirmed_by_the_admin_and_complete_35_minutes_after_start(
    skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
) -> None:
    smtp, _ = peers
    env = skipping_env
    async with running_worker(env.client, sessions, provider_settings):
        with env.with_time_skipping_disabled():
            _, customer, dinner, handle = await booked(
                sessions, env.client, status="pending", channel_order=["email"], **RESTAURANT
            )
        await until_next(handle, "expire")
        assert sorted(to for to, _ in _to(smtp)) == [customer.email, "owner@studio.test"]  # booked, alert
        confirmed = await handle.execute_update(AppointmentWorkflow.confirm, StepInput(by="admin"))
        assert confirmed.status == "confirmed"
        await until_next(handle, "reminder")
        await env.fast_forward(handle, timedelta(days=2, minutes=34))  # booked two days ahead
        almost = await until_next(handle, "auto_complete")
        assert almost.status == "confirmed" and almost.next_action is not None
        assert almost.next_action.at == almost.starts_at + timedelta(minutes=35)
        await env.fast_forward(handle, timedelta(minutes=2))
        await eventually(lambda: _completed(handle), what="completion 35 minutes after the start")
    async with sessions() as session:
        row = await session.get(Appointment, dinner.id)
        fees = list((await session.execute(select(AppointmentFee))).scalars())
    assert row is not None and row.status.value == "completed" and row.completed_at is not None
    events = [event for event, _, _ in await log_of(sessions, dinner.id)]
    assert fees == [] and "appointment.no_show" not in events
    assert events[:3] == ["appointment.booked", "appointment.admin_new_booking", "appointment.confirmed"]


async def test_a_cancelled_reservation_tells_the_guest_by_email(
    skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
) -> None:
    smtp, _ = peers
    async with running_worker(skipping_env.client, sessions, provider_settings):
        with skipping_env.with_time_skipping_disabled():
            _, customer, dinner, handle = await booked(
                sessions, skipping_env.client, status="confirmed", channel_order=["email"], **RESTAURANT
            )
        await until_next(handle, "reminder")
        await handle.signal(
            AppointmentWorkflow.cancel, CancelInput(reason="table no longer needed", by="guest")
        )
        final = await finished(handle)
    assert final.status == "cancelled"
    assert (await log_of(sessions, dinner.id))[-1] == ("appointment.cancelled", "sent", None)
    assert _to(smtp)[-1][0] == customer.email


async def test_an_operator_can_still_mark_a_no_show_before_completion(
    skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
) -> None:
    async with running_worker(skipping_env.client, sessions, provider_settings):
        with skipping_env.with_time_skipping_disabled():
            *_, handle = await booked(
                sessions,
                skipping_env.client,
                starts_in=timedelta(hours=1),
                channel_order=["email"],
                **RESTAURANT,
            )
        await until_next(handle, "auto_complete")  # the 2 h reminder was already too late: skipped
        await skipping_env.fast_forward(handle, timedelta(hours=1, minutes=10))
        marked = await handle.execute_update(AppointmentWorkflow.mark_no_show, StepInput(by="host"))
        assert marked.status == "no_show"
        await finished(handle)
