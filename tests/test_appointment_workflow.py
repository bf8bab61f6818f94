"""AppointmentWorkflow on the time-skipping (v2) dev server, with the real activities, PostgreSQL and peers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from temporalio.client import WorkflowExecutionStatus, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from activities.appointment_types import CancelInput, RescheduleInput, ReviewSubmittedInput, StepInput
from db.engine import SessionFactory
from db.models import AppointmentFee, Customer
from keeptime.settings import Settings
from tests.appointment_support import booked, db_status, eventually, log_of, state, until_next
from tests.peers import ProviderPeer, SmtpPeer
from tests.support import running_worker
from workflows import search_attributes as attrs
from workflows.appointment import AppointmentWorkflow


async def test_happy_path_from_booking_to_review_reminder(
    skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
) -> None:
    smtp, http = peers
    env = skipping_env
    async with running_worker(env.client, sessions, provider_settings):
        with env.with_time_skipping_disabled():
            business, customer, appointment, handle = await booked(sessions, env.client)
        await until_next(handle, "reminder")
        assert await log_of(sessions, appointment.id) == [
            ("appointment.booked", "sent", None),
            ("appointment.admin_new_booking", "sent", None),
        ]
        await env.fast_forward(handle, timedelta(days=2) - timedelta(minutes=30))
        view = await until_next(handle, "no_show_check")
        assert [m.event for m in view.messages][-2:] == [
            "appointment.reminder_24h",
            "appointment.reminder_2h",
        ]
        checked_in = await handle.execute_update(AppointmentWorkflow.check_in, StepInput(by="front desk"))
        assert checked_in.status == "checked_in" and await db_status(sessions, appointment.id) == "checked_in"
        await env.fast_forward(handle, timedelta(hours=2))
        await until_next(handle, "review_reminder", timeout_s=30)
        assert await db_status(sessions, appointment.id) == "completed"
        await env.fast_forward(handle, timedelta(days=8))
        final = await handle.result()
    assert final.status == "completed" and final.next_action is None
    assert [event for event, status, _ in await log_of(sessions, appointment.id)] == [
        "appointment.booked",
        "appointment.admin_new_booking",
        "appointment.reminder_24h",
        "appointment.reminder_2h",
        "appointment.review_request",
        "appointment.review_reminder",
    ]
    assert len(http.accepted["sms"]) == 5 and len(smtp.messages) == 1  # the admin alert is e-mail
    described = await handle.describe()
    assert described.typed_search_attributes.get(attrs.STATUS) == "completed"
    assert described.typed_search_attributes.get(attrs.TENANT) == str(business.id)
