"""Random sequences of bookings, reschedules, cancels, check-ins, time jumps and worker restarts.

Invariants, whatever the order: nothing but the cancellation notice goes out after a cancel is committed;
no message reaches the provider twice; PostgreSQL and the workflow agree on every appointment's status; and
every history replays on the code that made it (a race that moves a command between workflow tasks fails
here, not in production after a worker restart).
"""

from __future__ import annotations

import contextlib
from datetime import timedelta
from functools import partial
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from db.engine import SessionFactory
from db.models import Appointment, NotificationLog
from domain.appointment_types import CancelInput, RescheduleInput, StepInput
from domain.statuses import NotificationStatus
from keeptime.settings import Settings
from tests.appointment_support import booked, eventually, state
from tests.peers import ProviderPeer, SmtpPeer
from tests.replay_support import replays_and_patches_at_start
from tests.support import running_worker, terminate_running
from workflows.appointment import AppointmentWorkflow

operation = st.one_of(
    st.tuples(st.just("reschedule"), st.integers(0, 1), st.integers(-120, 600)),
    st.tuples(st.just("cancel"), st.integers(0, 1), st.just(0)),
    st.tuples(st.just("check_in"), st.integers(0, 1), st.just(0)),
    st.tuples(st.just("advance"), st.integers(0, 1), st.integers(10, 300)),
    st.tuples(st.just("restart_worker"), st.just(0), st.just(0)),
)


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    phases=[
        Phase.explicit,
        Phase.generate,
    ],  # shrinking reruns whole workflows for minutes; the blob reproduces
    print_blob=True,
)
@given(
    starts_in=st.lists(st.integers(30, 600), min_size=2, max_size=2),
    operations=st.lists(operation, max_size=6),
)
async def test_invariants_hold_for_any_sequence_of_steering(
    skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
    starts_in: list[int],
    operations: list[tuple[str, int, int]],
) -> None:
    env = skipping_env
    handles: list[WorkflowHandle[Any, Any]] = []
    ids: list[int] = []
    restarting = running_worker(env.client, sessions, provider_settings, end_workflows=False)
    await restarting.__aenter__()
    try:
        with env.with_time_skipping_disabled():
            for minutes in starts_in:
                *_, appointment, handle = await booked(
                    sessions, env.client, starts_in=timedelta(minutes=minutes)
                )
                handles.append(handle)
                ids.append(appointment.id)
        for kind, index, amount in operations:
            handle = handles[index]
            view = await state(handle) if kind != "restart_worker" else None
            if kind == "reschedule" and view is not None and view.status in ("pending", "confirmed"):
                start = view.starts_at + timedelta(minutes=amount)
                change = RescheduleInput(starts_at=start, ends_at=start + timedelta(minutes=45))
                await _tolerant(handle.execute_update(AppointmentWorkflow.reschedule, change))
            elif kind == "cancel":
                await _tolerant(
                    handle.signal(AppointmentWorkflow.cancel, CancelInput(reason="property test"))
                )
            elif kind == "check_in" and view is not None and view.status in ("pending", "confirmed"):
                await _tolerant(handle.execute_update(AppointmentWorkflow.check_in, StepInput()))
            elif kind == "advance" and view is not None and view.next_action is not None:
                await _tolerant(env.fast_forward(handle, timedelta(minutes=amount)))
            elif kind == "restart_worker":
                await restarting.__aexit__(None, None, None)  # a worker goes away mid-flight ...
                restarting = running_worker(env.client, sessions, provider_settings, end_workflows=False)
                await restarting.__aenter__()  # ... and a new one picks the workflows up
        for handle in handles:  # let every timeline run to its end
            await _tolerant(env.fast_forward(handle, timedelta(days=10)))
        for handle, appointment_id in zip(handles, ids, strict=True):
            await eventually(
                partial(_agree, sessions, handle, appointment_id), what="DB and workflow to agree"
            )
            await replays_and_patches_at_start(env.client.get_workflow_handle(handle.id))
    finally:
        await restarting.__aexit__(None, None, None)
        await terminate_running(env.client)
    await _nothing_after_cancel(sessions, ids)
    keys = peers[1].message_keys("sms")
    assert len(keys) == len(set(keys)), "a message reached the provider twice"


async def _tolerant(call: Any) -> None:
    with contextlib.suppress(Exception):  # a rejected update or a closed workflow is a legal outcome here
        await call


async def _agree(sessions: SessionFactory, handle: WorkflowHandle[Any, Any], appointment_id: int) -> bool:
    async with sessions() as session:
        row = await session.get(Appointment, appointment_id)
    view = await state(handle)
    return row is not None and row.status.value == view.status


async def _nothing_after_cancel(sessions: SessionFactory, ids: list[int]) -> None:
    async with sessions() as session:
        for appointment_id in ids:
            appointment = await session.get(Appointment, appointment_id)
            assert appointment is not None
            if appointment.status.value != "cancelled":
                continue
            sent = await session.execute(
                select(NotificationLog).where(
                    NotificationLog.entity_id == appointment_id,
                    NotificationLog.entity_type == "appointment",
                    NotificationLog.status == NotificationStatus.SENT,
                    NotificationLog.event != "appointment.cancelled",
                )
            )
            for row in sent.scalars():
                assert row.sent_at is not None and row.sent_at <= appointment.updated_at, (
                    f"{row.event} went out after appointment {appointment_id} was cancelled"
                )
