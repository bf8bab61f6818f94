"""AppointmentWorkflow on the time-skipping (v2) dev server, with the real activities and peers."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from db.engine import SessionFactory
from db.models import AppointmentFee, Customer
from domain import search_attributes as attrs
from domain.appointment_types import (
    AppointmentView,
    CancelInput,
    RescheduleInput,
    ReviewSubmittedInput,
    StepInput,
)
from keeptime.settings import Settings
from tests.appointment_support import booked, db_status, eventually, log_of, state, until_next
from tests.peers import ProviderPeer, SmtpPeer
from tests.support import running_worker
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
            business, _customer, appointment, handle = await booked(sessions, env.client)
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
        # completes when it ends (start + 1 h); the review request follows 2 h after that
        await env.fast_forward(handle, timedelta(hours=4))
        await until_next(handle, "review_reminder", timeout_s=30)
        assert await db_status(sessions, appointment.id) == "completed"
        await env.fast_forward(handle, timedelta(days=8))
        final = await finished(handle)
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


async def test_no_show_records_fee_penalty_and_notice(
    skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
) -> None:
    async with running_worker(skipping_env.client, sessions, provider_settings):
        _, customer, appointment, handle = await booked(
            sessions,
            skipping_env.client,
            starts_in=timedelta(hours=5),
            no_show_fee_cents=2500,
            no_show_reputation_penalty=15,
        )
        final = await finished(handle)  # time skips straight through: nobody checks in
    assert final.status == "no_show" and await db_status(sessions, appointment.id) == "no_show"
    events = [event for event, _, _ in await log_of(sessions, appointment.id)]
    assert events[-1] == "appointment.no_show" and "appointment.reminder_2h" in events
    async with sessions() as session:
        [fee] = (await session.execute(select(AppointmentFee))).scalars()
        penalised = await session.get(Customer, customer.id)
    assert (fee.amount_cents, fee.status, fee.appointment_id) == (2500, "pending", appointment.id)
    assert penalised is not None and penalised.reputation_score == 85


STAGES = {  # stage -> (booking status, what it has sent by then, what the workflow sleeps towards)
    "pending": ("pending", [], "expire"),
    "before_reminders": ("confirmed", [], "reminder"),
    "between_reminders": ("confirmed", ["appointment.reminder_24h"], "reminder"),
}


@pytest.mark.parametrize("stage", sorted(STAGES))
@pytest.mark.parametrize("how", ["signal", "native"])
async def test_cancel_at_any_stage_ends_it_and_nothing_is_sent_afterwards(
    skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
    how: str,
    stage: str,
) -> None:
    status, sent_before, sleeping_towards = STAGES[stage]
    async with running_worker(skipping_env.client, sessions, provider_settings):
        with skipping_env.with_time_skipping_disabled():
            _, _, appointment, handle = await booked(sessions, skipping_env.client, status=status)
        await until_next(handle, sleeping_towards)
        if sent_before:
            await skipping_env.fast_forward(handle, timedelta(days=1, minutes=5))
            await until_next(handle, "reminder")
        if how == "signal":
            await handle.signal(AppointmentWorkflow.cancel, CancelInput(reason="flu", by="customer"))
            final = await finished(handle)
            assert final.status == "cancelled"
        else:
            await handle.cancel()
            await eventually(
                lambda: _closed(handle, WorkflowExecutionStatus.CANCELED),
                what="the workflow to end cancelled",
            )
    assert await db_status(sessions, appointment.id) == "cancelled"
    assert [event for event, _, _ in await log_of(sessions, appointment.id)] == [
        "appointment.booked",
        "appointment.admin_new_booking",
        *sent_before,
        "appointment.cancelled",
    ]


async def finished(handle: WorkflowHandle[Any, AppointmentView]) -> AppointmentView:
    # A fresh handle: on the v2 time-skipping server, result() on the starting handle sometimes waits forever
    # once updates have been rejected, although the workflow has closed.
    fresh = handle._client.get_workflow_handle_for(AppointmentWorkflow.run, handle.id)
    return await asyncio.wait_for(fresh.result(), 60)


async def rejected(call: Awaitable[object], reason: str) -> None:
    with pytest.raises(WorkflowUpdateFailedError) as raised:
        await call
    assert reason in str(raised.value.cause)


async def _closed(handle: object, status: WorkflowExecutionStatus) -> bool:
    return (await handle.describe()).status == status  # type: ignore[attr-defined,no-any-return]


async def test_reschedule_moves_every_timer_and_nothing_goes_out_for_the_old_time(
    skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
) -> None:
    async with running_worker(skipping_env.client, sessions, provider_settings):
        with skipping_env.with_time_skipping_disabled():
            _, _, appointment, handle = await booked(
                sessions, skipping_env.client, starts_in=timedelta(days=2)
            )
        await skipping_env.fast_forward(handle, timedelta(days=1, minutes=5))  # the 24h reminder went out
        view = await until_next(handle, "reminder")
        assert view.messages[-1].event == "appointment.reminder_24h"
        new_start = view.starts_at + timedelta(days=3)
        moved = await handle.execute_update(
            AppointmentWorkflow.reschedule,
            RescheduleInput(starts_at=new_start, ends_at=new_start + timedelta(hours=1)),
        )
        assert (moved.version, moved.starts_at) == (2, new_start)
        assert moved.next_action is not None and moved.next_action.at == new_start - timedelta(days=1)
        await skipping_env.fast_forward(handle, timedelta(days=10))
        final = await finished(handle)  # ran to the end (no-show) on the new timeline
    log = await log_of(sessions, appointment.id)
    assert [event for event, _, _ in log] == [
        "appointment.booked",
        "appointment.admin_new_booking",
        "appointment.reminder_24h",
        "appointment.rescheduled",
        "appointment.reminder_24h",
        "appointment.reminder_2h",
        "appointment.no_show",
    ]
    assert final.version == 2


@pytest.mark.parametrize(
    ("starts_in", "expected"),
    [
        (
            timedelta(hours=3),
            [
                ("appointment.reminder_24h", "skipped", "superseded"),
                ("appointment.reminder_2h", "sent", None),
            ],
        ),
        (
            timedelta(minutes=100),
            [
                ("appointment.reminder_24h", "skipped", "superseded"),
                ("appointment.reminder_2h", "sent", None),
            ],
        ),
        (
            timedelta(minutes=20),
            [
                ("appointment.reminder_24h", "skipped", "too_late"),
                ("appointment.reminder_2h", "skipped", "too_late"),
            ],
        ),
    ],
)
async def test_late_booking_sends_only_reminders_that_are_still_useful(
    skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
    starts_in: timedelta,
    expected: list[tuple[str, str, str | None]],
) -> None:
    async with running_worker(skipping_env.client, sessions, provider_settings):
        _, _, appointment, handle = await booked(sessions, skipping_env.client, starts_in=starts_in)
        await finished(handle)
    reminders = [row for row in await log_of(sessions, appointment.id) if "reminder" in row[0]]
    assert reminders == expected


async def test_pending_never_confirmed_expires_at_start_without_reminders(
    skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
) -> None:
    async with running_worker(skipping_env.client, sessions, provider_settings):
        _, _, appointment, handle = await booked(sessions, skipping_env.client, status="pending")
        final = await finished(handle)
    assert final.status == "cancelled"
    assert [event for event, _, _ in await log_of(sessions, appointment.id)] == [
        "appointment.booked",
        "appointment.admin_new_booking",
        "appointment.cancelled",
    ]


async def test_updates_answer_or_reject_with_a_reason(
    skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
) -> None:
    async with running_worker(skipping_env.client, sessions, provider_settings):
        with skipping_env.with_time_skipping_disabled():
            _, _, appointment, handle = await booked(sessions, skipping_env.client, status="pending")
        await until_next(handle, "expire")
        confirmed = await handle.execute_update(AppointmentWorkflow.confirm, StepInput())
        assert confirmed.status == "confirmed" and await db_status(sessions, appointment.id) == "confirmed"
        again = await handle.execute_update(AppointmentWorkflow.confirm, StepInput())  # a repeat: no-op
        assert (again.status, again.version) == ("confirmed", confirmed.version)
        await rejected(handle.execute_update(AppointmentWorkflow.mark_no_show, StepInput()), "not started")
        past = confirmed.starts_at - timedelta(days=5)
        await rejected(
            handle.execute_update(
                AppointmentWorkflow.reschedule,
                RescheduleInput(starts_at=past, ends_at=past + timedelta(hours=1)),
            ),
            "in the past",
        )
        await rejected(
            handle.execute_update(
                AppointmentWorkflow.reschedule,
                RescheduleInput(starts_at=confirmed.starts_at, ends_at=confirmed.starts_at),
            ),
            "ends_at",
        )
        await handle.signal(AppointmentWorkflow.cancel, CancelInput())
        await finished(handle)
    events = [event for event, _, _ in await log_of(sessions, appointment.id)]
    assert "appointment.confirmed" in events and events[-1] == "appointment.cancelled"


@pytest.mark.parametrize("when", ["before_request", "before_reminder"])
async def test_a_review_stops_the_review_messages(
    skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
    when: str,
) -> None:
    async with running_worker(skipping_env.client, sessions, provider_settings):
        with skipping_env.with_time_skipping_disabled():
            _, _, appointment, handle = await booked(
                sessions, skipping_env.client, starts_in=timedelta(hours=3)
            )
        await until_next(handle, "reminder")
        await skipping_env.fast_forward(handle, timedelta(hours=1, minutes=5))  # the 2h reminder goes out
        await until_next(handle, "no_show_check")
        await skipping_env.fast_forward(handle, timedelta(hours=2))  # the appointment has started
        review = ReviewSubmittedInput(rating=5)
        if when == "before_request":
            # Reviewed before the request could go out. (Signalled before completing: the request is
            # planned from the row's completed_at, PostgreSQL's real clock, which is hours behind this
            # workflow's skipped clock, so right after completing it is already due.)
            await handle.signal(AppointmentWorkflow.review_submitted, review)
        await handle.execute_update(AppointmentWorkflow.complete, StepInput())
        if when == "before_reminder":
            await skipping_env.fast_forward(handle, timedelta(hours=3))
            await until_next(handle, "review_reminder")
            await handle.signal(AppointmentWorkflow.review_submitted, review)
            await skipping_env.fast_forward(handle, timedelta(days=10))
        final = await finished(handle)  # reviewed: nothing is left to wait for
        # Skipping ahead after it closed is "it terminated first", not an error (conftest).
        assert await skipping_env.fast_forward(handle, timedelta(days=1)) is False
    assert final.status == "completed"
    reviews = [row for row in await log_of(sessions, appointment.id) if "review" in row[0]]
    if when == "before_request":
        assert reviews == []
    else:
        assert reviews == [("appointment.review_request", "sent", None)]


async def test_many_reschedules_continue_as_new_with_state_carried(
    skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
) -> None:
    from db.appointments import appointment_snapshot
    from db.models import Appointment
    from domain.appointment_types import AppointmentInput
    from domain.task_queues import APPOINTMENTS

    async with running_worker(skipping_env.client, sessions, provider_settings):
        with skipping_env.with_time_skipping_disabled():
            _, _, appointment, _ = await booked(sessions, skipping_env.client, starts_in=timedelta(days=5))
            await skipping_env.client.get_workflow_handle(f"appointment-{appointment.id}").terminate()
            async with sessions() as session:
                row = await session.get(Appointment, appointment.id)
                assert row is not None
                snapshot = await appointment_snapshot(session, row)
            handle = await skipping_env.client.start_workflow(
                AppointmentWorkflow.run,
                AppointmentInput(
                    appointment_id=appointment.id,
                    business_id=appointment.business_id,
                    snapshot=snapshot,
                    continue_as_new_after_events=40,
                ),
                id=f"appointment-can-{appointment.id}",
                task_queue=APPOINTMENTS,
            )
            view = await until_next(handle, "reminder")
            for n in range(1, 7):
                start = view.starts_at + timedelta(hours=n)
                view = await handle.execute_update(
                    AppointmentWorkflow.reschedule,
                    RescheduleInput(starts_at=start, ends_at=start + timedelta(hours=1)),
                )
            await eventually(lambda: _new_run(handle), what="continue-as-new")
            await eventually(lambda: _rescheduled_messages(handle, 6), what="all six messages")
            carried = await state(handle)
        assert carried.version == 7 and await db_status(sessions, appointment.id) == "confirmed"
        await handle.signal(AppointmentWorkflow.cancel, CancelInput())
        await finished(handle)


async def _rescheduled_messages(handle: object, count: int) -> bool:
    view = await state(handle)  # type: ignore[arg-type]
    return [m.event for m in view.messages].count("appointment.rescheduled") == count


async def _new_run(handle: object) -> bool:
    described = await handle.describe()  # type: ignore[attr-defined]
    return bool(described.run_id != handle.first_execution_run_id)  # type: ignore[attr-defined]
