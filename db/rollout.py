"""Which rows a settings rollout visits: a business's rows whose workflow may be sleeping, by keyset page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Appointment, DailyPlan, Invoice, Policy, Vaccination
from db.pets import ACTIVE as ACTIVE_VACCINATIONS
from domain.appointment_types import ACTIVE_STATUSES
from domain.limits import MAX_DELAY_S
from domain.rollout_types import EntityKind
from domain.statuses import AppointmentStatus, DailyPlanStatus, InvoiceStatus, PolicyStatus

# A completed appointment's workflow still waits for its review request and reminder (each up to 90 days).
REVIEW_HORIZON = timedelta(seconds=2 * MAX_DELAY_S + 24 * 3600)


async def ids_page(
    session: AsyncSession, business_id: int, kind: EntityKind, after_id: int, limit: int
) -> list[int]:
    """Up to ``limit`` ids after ``after_id``, ascending, of the business's rows of that kind that may have
    a running workflow."""
    column, condition = _rows_of(kind)
    rows = await session.execute(
        select(column)
        .where(column > after_id, condition, _business(kind) == business_id)
        .order_by(column)
        .limit(limit)
    )
    return [int(value) for value in rows.scalars()]


def _business(kind: EntityKind) -> ColumnElement[int]:
    table = {
        "appointment": Appointment,
        "vaccination": Vaccination,
        "policy": Policy,
        "invoice": Invoice,
        "daily_plan": DailyPlan,
    }[kind]
    return table.business_id  # type: ignore[attr-defined,no-any-return]


def _rows_of(kind: EntityKind) -> tuple[Any, ColumnElement[bool]]:
    if kind == "appointment":
        recently_completed = and_(
            Appointment.status == AppointmentStatus.COMPLETED,
            Appointment.completed_at >= datetime.now(UTC) - REVIEW_HORIZON,
        )
        active = Appointment.status.in_([AppointmentStatus(s) for s in ACTIVE_STATUSES])
        return Appointment.id, and_(or_(active, recently_completed), Appointment.archived_at.is_(None))
    if kind == "vaccination":
        return Vaccination.id, Vaccination.status.in_(ACTIVE_VACCINATIONS)
    if kind == "invoice":
        return Invoice.id, Invoice.status.in_([InvoiceStatus.SENT, InvoiceStatus.OVERDUE])
    if kind == "daily_plan":
        return DailyPlan.id, DailyPlan.status == DailyPlanStatus.DRAFT
    return Policy.id, Policy.status == PolicyStatus.ACTIVE
