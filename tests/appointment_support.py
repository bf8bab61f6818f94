"""Helpers for the appointment workflow tests: businesses without quiet hours, and polling."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from temporalio.client import WorkflowHandle

from db.appointments import appointment_snapshot
from db.engine import SessionFactory
from db.models import Appointment, Business, Customer, NotificationLog
from domain.appointment_types import AppointmentView
from domain.automation import AutomationSettings, QuietHours
from tests.factories import make_appointment, make_business, make_customer
from workflows.appointment import AppointmentWorkflow
from workflows.starts import ensure_workflow

NO_QUIET_HOURS = QuietHours(start=time(0, 0), end=time(0, 0))


async def booked(
    sessions: SessionFactory,
    client: Any,
    *,
    starts_in: timedelta = timedelta(days=2),
    duration: timedelta = timedelta(hours=1),
    status: str = "confirmed",
    channel_order: list[str] | None = None,
    **automation: Any,
) -> tuple[Business, Customer, Appointment, WorkflowHandle[Any, Any]]:
    settings = AutomationSettings.model_validate({"quiet_hours": NO_QUIET_HOURS, **automation})
    business = await make_business(sessions, automation=settings.model_dump(mode="json"))
    customer = await make_customer(sessions, business, channel_order=channel_order or ["sms", "email"])
    starts_at = datetime.now(UTC).replace(microsecond=0) + starts_in
    appointment = await make_appointment(
        sessions, business, customer, starts_at=starts_at, ends_at=starts_at + duration, status=status
    )
    return business, customer, appointment, await start_workflow_of(sessions, client, appointment.id)


async def start_workflow_of(
    sessions: SessionFactory, client: Any, appointment_id: int
) -> WorkflowHandle[Any, Any]:
    """Start the appointment's workflow from its row, as the API does after booking."""
    async with sessions() as session:
        row = await session.get(Appointment, appointment_id)
        assert row is not None
        snapshot = await appointment_snapshot(session, row)
    return await ensure_workflow(client, snapshot)


async def eventually(
    check: Callable[[], Awaitable[bool]], *, timeout_s: float = 20.0, what: str = ""
) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        await asyncio.sleep(0.1)


async def state(handle: WorkflowHandle[Any, Any]) -> AppointmentView:
    view: AppointmentView = await handle.query(AppointmentWorkflow.state)
    return view


async def until_next(handle: WorkflowHandle[Any, Any], kind: str, timeout_s: float = 20.0) -> AppointmentView:
    """Wait until the workflow sleeps towards a step of ``kind`` (it has done everything before it)."""
    found: list[AppointmentView] = []

    async def check() -> bool:
        view = await state(handle)
        found[:] = [view]
        return view.sleeping and view.next_action is not None and view.next_action.kind == kind

    await eventually(check, timeout_s=timeout_s, what=f"next action {kind}")
    return found[0]


async def log_of(sessions: SessionFactory, appointment_id: int) -> list[tuple[str, str, str | None]]:
    """(event, status, reason) of every message about the appointment, in order."""
    async with sessions() as session:
        rows = await session.execute(
            select(NotificationLog)
            .where(NotificationLog.entity_type == "appointment", NotificationLog.entity_id == appointment_id)
            .order_by(NotificationLog.id)
        )
        return [(r.event, r.status.value, r.reason) for r in rows.scalars()]


async def db_status(sessions: SessionFactory, appointment_id: int) -> str:
    async with sessions() as session:
        row = await session.get(Appointment, appointment_id)
        assert row is not None
        return row.status.value
