"""No-show fees for the business's payment system: list them, mark one paid or waive it (issue 33).

A fee is written once per appointment when it is marked a no-show (``db.appointments.charge_no_show``,
``fee.applied``). The business's payment code charges it and says so here (``fee.paid``, with its own
reference), or forgives it (``fee.waived``). Each change and its event commit together; the same change
again changes nothing and tells nothing; paid and waived exclude each other (409 on ``status``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db import events
from db.conflicts import FieldConflict
from db.models import AppointmentFee
from domain.events import FeePayload

PENDING, PAID, WAIVED = "pending", "paid", "waived"


class FeeConflict(FieldConflict):
    """The fee is already in the other outcome, or paid under another reference."""


def fee_payload(fee: AppointmentFee) -> FeePayload:
    return FeePayload(
        fee_id=fee.id,
        appointment_id=fee.appointment_id,
        customer_id=fee.customer_id,
        kind=fee.kind,
        amount_cents=fee.amount_cents,
        status=fee.status,
        payment_reference=fee.payment_reference,
    )


async def fees(
    session: AsyncSession,
    business_id: int,
    *,
    status: str | None,
    appointment_id: int | None,
    after_id: int | None,
    limit: int,
) -> list[AppointmentFee]:
    """The business's fees in id order after ``after_id`` (the page before's last)."""
    query = select(AppointmentFee).where(AppointmentFee.business_id == business_id)
    if status is not None:
        query = query.where(AppointmentFee.status == status)
    if appointment_id is not None:
        query = query.where(AppointmentFee.appointment_id == appointment_id)
    if after_id is not None:
        query = query.where(AppointmentFee.id > after_id)
    return list(await session.scalars(query.order_by(AppointmentFee.id).limit(limit)))


async def _locked(session: AsyncSession, business_id: int, fee_id: int) -> AppointmentFee | None:
    return (
        await session.execute(
            select(AppointmentFee)
            .where(AppointmentFee.id == fee_id, AppointmentFee.business_id == business_id)
            .with_for_update()
        )
    ).scalar_one_or_none()


async def mark_paid(
    session: AsyncSession, business_id: int, fee_id: int, reference: str | None, at: datetime
) -> AppointmentFee | None:
    """Paid, under the payment system's ``reference``. Commits; None: no such fee."""
    async with session.begin():
        fee = await _locked(session, business_id, fee_id)
        if fee is None:
            return None
        if fee.status == PAID:
            if reference is not None and fee.payment_reference not in (None, reference):
                raise FeeConflict("reference", "the fee was paid under another reference")
            return fee
        if fee.status == WAIVED:
            raise FeeConflict("status", "the fee was waived")
        fee.status, fee.paid_at, fee.payment_reference, fee.updated_at = PAID, at, reference, at
        events.record(
            session, business_id, "fee.paid", ("appointment", fee.appointment_id), at, fee_payload(fee)
        )
    return fee


async def waive(
    session: AsyncSession, business_id: int, fee_id: int, reason: str | None, at: datetime
) -> AppointmentFee | None:
    """Forgiven. Commits; None: no such fee."""
    async with session.begin():
        fee = await _locked(session, business_id, fee_id)
        if fee is None or fee.status == WAIVED:
            return fee
        if fee.status == PAID:
            raise FeeConflict("status", "the fee was paid")
        fee.status, fee.waived_at, fee.waive_reason, fee.updated_at = WAIVED, at, reason, at
        events.record(
            session, business_id, "fee.waived", ("appointment", fee.appointment_id), at, fee_payload(fee)
        )
    return fee
