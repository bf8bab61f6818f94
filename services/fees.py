"""No-show fees for the business's payment system (db.fees says the rules): list, mark paid, waive."""

from __future__ import annotations

from datetime import UTC, datetime

from db import fees as store
from db.engine import SessionFactory
from db.models import AppointmentFee

FeeConflict = store.FeeConflict
Fee = AppointmentFee  # what the API serializes


async def list_fees(
    sessions: SessionFactory,
    business_id: int,
    *,
    status: str | None,
    appointment_id: int | None,
    after_id: int | None,
    limit: int,
) -> list[AppointmentFee]:
    async with sessions() as session:
        return await store.fees(
            session, business_id, status=status, appointment_id=appointment_id, after_id=after_id, limit=limit
        )


async def of_appointment(
    sessions: SessionFactory, business_id: int, appointment_id: int
) -> list[AppointmentFee]:
    """The appointment's fees (one no-show fee at most: it is written once per appointment)."""
    return await list_fees(
        sessions, business_id, status=None, appointment_id=appointment_id, after_id=None, limit=10
    )


async def mark_paid(
    sessions: SessionFactory, business_id: int, fee_id: int, reference: str | None
) -> AppointmentFee | None:
    async with sessions() as session:
        return await store.mark_paid(session, business_id, fee_id, reference, datetime.now(UTC))


async def waive(
    sessions: SessionFactory, business_id: int, fee_id: int, reason: str | None
) -> AppointmentFee | None:
    async with sessions() as session:
        return await store.waive(session, business_id, fee_id, reason, datetime.now(UTC))
