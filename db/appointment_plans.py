"""What the settings preview needs of a business's sleeping appointments, read in a few queries: each row
as the workflow's state (the steps its notification log shows handled) and the recipient's time zone."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.appointments import REMINDER_EVENT, sent_reminder_slots, snapshot_of
from db.models import Appointment, Business, Customer, NotificationLog, Review
from db.rollout import ids_page
from domain.appointment_timeline import reminder_key
from domain.appointment_types import AppointmentState
from domain.preferences import Preferences


@dataclass(frozen=True)
class SleepingAppointment:
    state: AppointmentState
    customer_zone: str | None  # None: the business's zone applies (``recipient_zone``)
    preferences: Preferences = field(default_factory=Preferences)  # what the customer receives

    @property
    def recipient_zone(self) -> str:
        return self.customer_zone or self.state.snapshot.time_zone


async def sleeping_appointments(
    session: AsyncSession, business: Business, limit: int
) -> list[SleepingAppointment]:
    """Up to ``limit`` of the rows the settings rollout would wake, oldest id first."""
    ids = await ids_page(session, business.id, "appointment", 0, limit)
    if not ids:
        return []
    rows = list((await session.scalars(select(Appointment).where(Appointment.id.in_(ids)))).all())
    reviewed = set(
        (await session.scalars(select(Review.appointment_id).where(Review.appointment_id.in_(ids)))).all()
    )
    customers = {
        customer_id: (zone, Preferences.from_stored(preferences))
        for customer_id, zone, preferences in (
            await session.execute(
                select(Customer.id, Customer.time_zone, Customer.preferences).where(
                    Customer.id.in_({row.customer_id for row in rows})
                )
            )
        ).all()
    }
    logs = (
        await session.scalars(
            select(NotificationLog).where(
                NotificationLog.entity_type == "appointment",
                NotificationLog.entity_id.in_(ids),
                or_(
                    NotificationLog.event.startswith(REMINDER_EVENT),  # logged with the variant: "..._24h"
                    NotificationLog.event.in_(["appointment.review_request", "appointment.review_reminder"]),
                ),
            )
        )
    ).all()
    history: dict[int, list[NotificationLog]] = {}
    for log in logs:
        history.setdefault(log.entity_id, []).append(log)
    slots = await sent_reminder_slots(session, ids)
    found = []
    for row in sorted(rows, key=lambda r: r.id):
        snapshot = snapshot_of(row, business, reviewed=row.id in reviewed)
        snapshot.sent_slots = slots.get(row.id, [])
        state = AppointmentState(snapshot=snapshot, booked_announced=True)
        for log in history.get(row.id, []):
            _apply_log(state, log)
        zone, preferences = customers.get(row.customer_id, (None, Preferences()))
        found.append(SleepingAppointment(state, zone, preferences))
    return found


def _apply_log(state: AppointmentState, log: NotificationLog) -> None:
    """A logged message (sent, skipped or failed) is a handled step: the workflow never takes it again."""
    snapshot = state.snapshot
    at: datetime = log.sent_at or log.created_at
    if log.event.startswith(REMINDER_EVENT):
        if log.scheduled_for is None or not log.message_key.endswith(f":v{snapshot.version}"):
            return  # planned for an earlier slot
        offset = round((snapshot.starts_at - log.scheduled_for).total_seconds())
        state.handled.append(reminder_key(offset, snapshot.version))
        if log.status.value in ("sent", "delivered"):
            key = f"v{snapshot.version}"
            state.last_reminder_at[key] = max(at, state.last_reminder_at.get(key, at))
    elif log.event == "appointment.review_request":
        state.handled.append("review_request")
        state.review_requested_at = at
    else:
        state.handled.append("review_reminder")
