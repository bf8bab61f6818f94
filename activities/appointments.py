"""Appointment activities: read the row, write every status change (one transaction each), record skips."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.notification_store import record_skip
from db.appointments import (
    appointment_of,
    appointment_snapshot,
    charge_no_show,
    has_reviewed,
    record_change,
    record_status,
)
from db.engine import SessionFactory
from db.models import Appointment, Business
from domain.appointment_types import (
    RESCHEDULABLE,
    TRANSITIONS,
    AppointmentRef,
    AppointmentSnapshot,
    SkipNotificationInput,
    TransitionInput,
)
from domain.automation import AutomationSettings
from domain.notification_types import NotificationResult
from domain.statuses import AppointmentStatus

CONFLICT = "AppointmentConflict"
MISSING = "AppointmentMissing"


class AppointmentActivities:
    def __init__(self, sessions: SessionFactory) -> None:
        self._sessions = sessions

    @activity.defn
    async def load_appointment(self, ref: AppointmentRef) -> AppointmentSnapshot:
        async with self._sessions() as session:
            appointment = await _locked(session, ref.appointment_id, ref.business_id, lock=False)
            return await appointment_snapshot(session, appointment)

    @activity.defn
    async def apply_transition(self, change: TransitionInput) -> AppointmentSnapshot:
        """Apply one status change under a row lock; a change already applied (a retry) returns the row."""
        async with self._sessions() as session, session.begin():
            appointment = await _locked(session, change.appointment_id, change.business_id, lock=True)
            # Stamped once the row lock is held: every send that raced this change finished before it.
            appointment.updated_at = datetime.now(UTC)
            if change.action == "reschedule":
                if _reschedule(appointment, change):
                    record_change(session, appointment, "appointment.rescheduled", appointment.updated_at)
                return await appointment_snapshot(session, appointment)
            target = AppointmentStatus(TRANSITIONS[change.action].target)
            if appointment.status == target:
                pass  # already applied by an earlier attempt
            elif appointment.status.value not in TRANSITIONS[change.action].allowed_from:
                raise ApplicationError(
                    f"cannot {change.action} an appointment that is {appointment.status.value}",
                    type=CONFLICT,
                    non_retryable=True,
                )
            else:
                await _apply(session, appointment, change, target)
                record_status(session, appointment, appointment.status_changed_at or appointment.updated_at)
            return await appointment_snapshot(session, appointment)

    @activity.defn
    async def record_skipped_notification(self, skip: SkipNotificationInput) -> NotificationResult:
        """A message the timeline decided not to send (e.g. a reminder whose useful time has passed)."""
        async with self._sessions() as session:
            return await record_skip(
                session, skip.request, skip.reason, failed=skip.failed, detail=skip.detail
            )

    @activity.defn
    async def check_reviewed(self, ref: AppointmentRef) -> bool:
        """Has this appointment's customer reviewed the business (for any appointment)?"""
        async with self._sessions() as session:
            appointment = await _locked(session, ref.appointment_id, ref.business_id, lock=False)
            return await has_reviewed(session, appointment)


async def _locked(session: AsyncSession, appointment_id: int, business_id: int, *, lock: bool) -> Appointment:
    appointment = await appointment_of(session, business_id, appointment_id, lock=lock)
    if appointment is None:
        raise ApplicationError(
            f"appointment {appointment_id} does not exist", type=MISSING, non_retryable=True
        )
    return appointment


def _reschedule(appointment: Appointment, change: TransitionInput) -> bool:
    """Move it to the change's slot; False: an earlier attempt did."""
    assert change.starts_at and change.ends_at and change.to_version
    if appointment.version >= change.to_version:
        return False  # applied by an earlier attempt
    if appointment.status.value not in RESCHEDULABLE or appointment.version != change.to_version - 1:
        raise ApplicationError(
            f"cannot reschedule: it is {appointment.status.value}, version {appointment.version}",
            type=CONFLICT,
            non_retryable=True,
        )
    appointment.starts_at, appointment.ends_at = change.starts_at, change.ends_at
    appointment.version = change.to_version
    return True


async def _apply(
    session: AsyncSession, appointment: Appointment, change: TransitionInput, target: AppointmentStatus
) -> None:
    now = change.at or datetime.now(UTC)  # a step's instant is the workflow's, also on a late retry
    appointment.status = target
    appointment.status_changed_at = now
    if target == AppointmentStatus.CHECKED_IN:
        appointment.checked_in_at = now
    elif target == AppointmentStatus.COMPLETED:
        appointment.completed_at = now
    elif target == AppointmentStatus.CANCELLED:
        appointment.cancel_reason, appointment.cancelled_by = change.reason, change.by
    elif target == AppointmentStatus.NO_SHOW:
        await _charge_no_show(session, appointment)


async def _charge_no_show(session: AsyncSession, appointment: Appointment) -> None:
    """The no-show fee (for the payment system) and the reputation penalty, in the same transaction."""
    business = await session.get(Business, appointment.business_id)
    assert business is not None
    settings = AutomationSettings.from_stored(business.automation).settings
    await charge_no_show(
        session, appointment, settings.no_show_fee_cents, settings.no_show_reputation_penalty
    )
