"""A settings change is never lost to a race (issue 32, defect 1): not to a newer revision signalled while the
workflow reads the one before, not to a booking that commits beside the change, and not to an appointment
whose workflow the API starts just after the rollout looked for it."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from activities.appointments import AppointmentActivities
from activities.rollout import RolloutActivities
from db import appointments as store
from db import tenants
from db.engine import SessionFactory
from db.models import Business
from domain.appointment_types import AppointmentRef, AppointmentSnapshot
from domain.automation import AutomationSettings
from domain.rollout_types import RolloutPageInput, RolloutProgress, SettingsChanged
from keeptime.settings import Settings
from services.settings import rollout_progress
from tests.appointment_support import NO_QUIET_HOURS, booked, eventually, state
from tests.factories import make_appointment, make_business, make_customer
from tests.support import running_worker
from workflows.appointment import AppointmentWorkflow
from workflows.starts import ensure_rollout, ensure_workflow


def _offsets(*hours: int) -> dict[str, Any]:
    settings = AutomationSettings(quiet_hours=NO_QUIET_HOURS, reminder_offsets_s=[h * 3600 for h in hours])
    return {"automation": settings.model_dump(mode="json")}


async def test_a_revision_signalled_while_the_last_one_loads_is_read_too(
    skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    provider_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Revision r+1 is read; while that load is still in flight, r+2 is committed and signalled. The
    workflow must read again and plan with r+2 (it used to clear the wish for r+2 with r+1's)."""
    env = skipping_env
    loaded, release = asyncio.Event(), asyncio.Event()
    hold = {"on": False}
    loads: list[int] = []
    real_load = AppointmentActivities.load_appointment

    async def load_held(self: AppointmentActivities, ref: AppointmentRef) -> AppointmentSnapshot:
        snapshot = await real_load(self, ref)
        loads.append(snapshot.settings_revision)
        if hold["on"]:
            hold["on"] = False
            loaded.set()
            await release.wait()  # r+2 is committed and signalled meanwhile
        return snapshot

    load_held.__temporal_activity_definition = real_load.__temporal_activity_definition  # type: ignore[attr-defined]
    monkeypatch.setattr(AppointmentActivities, "load_appointment", load_held)

    async with running_worker(env.client, sessions, provider_settings):
        with env.with_time_skipping_disabled():
            business, _c, _a, handle = await booked(sessions, env.client, starts_in=timedelta(days=5))
            await eventually(lambda: _next_kind(handle, "reminder"), what="the first reminder planned")
            first = await _revision_of_change(sessions, business.id, _offsets(48))
            hold["on"] = True
            await handle.signal(AppointmentWorkflow.settings_changed, SettingsChanged(revision=first))
            await asyncio.wait_for(loaded.wait(), 20)
            second = await _revision_of_change(sessions, business.id, _offsets(72))
            await handle.signal(AppointmentWorkflow.settings_changed, SettingsChanged(revision=second))
            await _signal_in_history(handle, second)
            release.set()

            async def planned_72h_before() -> bool:
                view = await state(handle)
                return view.next_action is not None and view.next_action.at == view.starts_at - timedelta(
                    hours=72
                )

            await eventually(planned_72h_before, what="the reminder planned with revision r+2 (72 h)")
    assert loads[-1] == second and first in loads


async def test_a_booking_beside_a_settings_change_reads_the_revision_the_rollout_reaches(
    sessions: SessionFactory,
) -> None:
    """A change holds the business row (uncommitted) while a booking comes in: the booking waits for it and
    stamps the new revision, instead of the old one that no rollout would ever correct."""
    business = await make_business(sessions)
    customer = await make_customer(sessions, business)
    starts_at = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    values = {"customer_id": customer.id, "starts_at": starts_at, "ends_at": starts_at + timedelta(hours=1)}
    async with sessions() as changing:
        row = await changing.get(Business, business.id, with_for_update=True)
        assert row is not None
        row.settings_revision += 1
        await changing.flush()
        new_revision = row.settings_revision

        async def book() -> store.Booking:
            async with sessions() as session:
                return await store.book(
                    session, business.id, values, idempotency_key=None, body_hash=store.request_hash(values)
                )

        booking = asyncio.create_task(book())
        await asyncio.sleep(0.5)  # long enough for the booking to reach the row lock
        await changing.commit()
    made = await asyncio.wait_for(booking, 10)
    assert made.snapshot.settings_revision == new_revision


async def test_the_rollout_tells_an_appointment_whose_workflow_was_started_after_it_looked(
    skipping_env: WorkflowEnvironment, sessions: SessionFactory, provider_settings: Settings
) -> None:
    """The API read revision r, the change to r+1 committed, the rollout found no workflow yet; the API's
    start (with r) then won. The rollout must still reach that workflow with r+1."""
    env = skipping_env
    async with running_worker(env.client, sessions, provider_settings):
        with env.with_time_skipping_disabled():
            settings = AutomationSettings(quiet_hours=NO_QUIET_HOURS)
            business = await make_business(sessions, automation=settings.model_dump(mode="json"))
            customer = await make_customer(sessions, business, channel_order=["email"])
            starts_at = datetime.now(UTC).replace(microsecond=0) + timedelta(days=5)
            appointment = await make_appointment(
                sessions, business, customer, starts_at=starts_at, ends_at=starts_at + timedelta(hours=1)
            )
            async with sessions() as session:
                row = await store.appointment_of(session, business.id, appointment.id)
                assert row is not None
                old_snapshot = await store.appointment_snapshot(session, row)
            revision = await _revision_of_change(sessions, business.id, _offsets(72))
            rollout = RolloutActivities(sessions, env.client)
            page = RolloutPageInput(
                business_id=business.id, revision=revision, kind="appointment", after_id=0, limit=10
            )
            real_start = rollout._start_from_row

            async def api_wins(page: RolloutPageInput, entity_id: int) -> bool:
                handle = await ensure_workflow(env.client, old_snapshot)  # the API's start, just before
                assert handle.result_run_id is not None
                return await real_start(page, entity_id)

            rollout._start_from_row = api_wins  # type: ignore[method-assign]
            outcome = await rollout._wake(page, appointment.id)
            handle = env.client.get_workflow_handle_for(
                AppointmentWorkflow.run, f"appointment-{appointment.id}"
            )

            async def planned_72h_before() -> bool:
                view = await state(handle)
                return view.next_action is not None and view.next_action.at == starts_at - timedelta(hours=72)

            await eventually(planned_72h_before, what="the API-started workflow planning with r+1")
    assert outcome == "started"


async def _revision_of_change(sessions: SessionFactory, business_id: int, changes: dict[str, Any]) -> int:
    async with sessions() as session:
        return (await tenants.update_business(session, business_id, changes)).settings_revision


async def _next_kind(handle: Any, kind: str) -> bool:
    view = await state(handle)
    return view.next_action is not None and view.next_action.kind == kind


async def _signal_in_history(handle: Any, revision: int) -> None:
    """The signal is in the history (so the workflow hears it before the held load's result)."""

    async def seen() -> bool:
        history = await handle.fetch_history()
        return any(
            json.loads(payload.data).get("revision") == revision
            for e in history.events
            if e.HasField("workflow_execution_signaled_event_attributes")
            for payload in e.workflow_execution_signaled_event_attributes.input.payloads
        )

    await eventually(seen, what=f"the signal of revision {revision}")


async def test_a_rollout_overtaken_by_a_newer_revision_stops_and_the_newer_one_tells_everyone(
    skipping_env: WorkflowEnvironment, sessions: SessionFactory, provider_settings: Settings
) -> None:
    """Two changes committed before either rollout ran (a burst): the older rollout signals nothing and
    leaves `rolled_out_revision` to the newer one, which tells the appointment and marks the business."""
    env = skipping_env
    async with running_worker(env.client, sessions, provider_settings):
        with env.with_time_skipping_disabled():
            business, _, appointment, handle = await booked(
                sessions, env.client, starts_in=timedelta(days=5), channel_order=["email"]
            )
            starts_at = appointment.starts_at
            older = await _revision_of_change(sessions, business.id, _offsets(72))
            newer = await _revision_of_change(sessions, business.id, _offsets(96))
            for revision in (older, newer):
                await ensure_rollout(env.client, business.id, revision)
                progress = await _finished_rollout(env.client, business.id, revision)
                if revision == older:
                    assert progress.superseded_by == newer
                    assert progress.signalled == 0
                else:
                    assert progress.superseded_by is None
                    assert progress.signalled == 1

            async def planned_96h_before() -> bool:
                view = await state(handle)
                return view.next_action is not None and view.next_action.at == starts_at - timedelta(hours=96)

            await eventually(planned_96h_before, what="the appointment planning with the newer revision")
    async with sessions() as session:
        row = await session.get(Business, business.id)
        assert row is not None
        assert row.rolled_out_revision == newer


async def _finished_rollout(client: Any, business_id: int, revision: int) -> RolloutProgress:
    found: list[RolloutProgress] = []

    async def finished() -> bool:
        progress = await rollout_progress(client, business_id, revision)
        found[:] = [progress] if progress is not None and progress.finished else []
        return bool(found)

    await eventually(finished, what=f"the rollout of revision {revision}")
    return found[0]
