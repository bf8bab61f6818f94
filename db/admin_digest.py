"""What a business's daily digest lists: bookings made, cancellations and no-shows in a window."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Appointment, Customer
from domain.statuses import AppointmentStatus

LISTED = 100  # per section; the counts are always complete


@dataclass
class DigestItem:
    appointment_id: int
    service: str | None
    starts_at: datetime
    customer: str
    status: str


@dataclass
class DigestSection:
    count: int = 0
    items: list[DigestItem] = field(default_factory=list)


@dataclass
class DigestRows:
    bookings: DigestSection
    cancellations: DigestSection
    no_shows: DigestSection

    @property
    def empty(self) -> bool:
        return not (self.bookings.count or self.cancellations.count or self.no_shows.count)


async def digest_rows(session: AsyncSession, business_id: int, start: datetime, end: datetime) -> DigestRows:
    """Bookings created in [start, end), and appointments that became cancelled / no-show in it."""
    mine = Appointment.business_id == business_id
    changed = Appointment.status_changed_at.between(start, end) & (Appointment.status_changed_at < end)
    return DigestRows(
        bookings=await _section(
            session, mine & (Appointment.created_at >= start) & (Appointment.created_at < end)
        ),
        cancellations=await _section(
            session, mine & changed & (Appointment.status == AppointmentStatus.CANCELLED)
        ),
        no_shows=await _section(session, mine & changed & (Appointment.status == AppointmentStatus.NO_SHOW)),
    )


async def _section(session: AsyncSession, where: ColumnElement[bool]) -> DigestSection:
    count = await session.scalar(select(func.count()).select_from(Appointment).where(where))
    rows = await session.execute(
        select(Appointment, Customer.name)
        .join(Customer, Customer.id == Appointment.customer_id)
        .where(where)
        .order_by(Appointment.starts_at, Appointment.id)
        .limit(LISTED)
    )
    items = [DigestItem(a.id, a.service, a.starts_at, name, a.status.value) for a, name in rows.all()]
    return DigestSection(count=int(count or 0), items=items)
