"""Vaccination activities: the record with its alert moments, and its status changes."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.vaccination_types import (
    ExpiryAlert,
    SetVaccinationStatusInput,
    VaccinationRef,
    VaccinationSnapshot,
)
from db.engine import SessionFactory
from db.models import Business, Pet, Vaccination, VaccinationStatus
from keeptime.automation import AutomationSettings
from keeptime.expiry import expiry_moments


class VaccinationActivities:
    def __init__(self, sessions: SessionFactory) -> None:
        self._sessions = sessions

    @activity.defn
    async def load_vaccination(self, ref: VaccinationRef) -> VaccinationSnapshot:
        async with self._sessions() as session:
            return await vaccination_snapshot(session, ref.vaccination_id, ref.business_id)

    @activity.defn
    async def set_vaccination_status(self, change: SetVaccinationStatusInput) -> VaccinationSnapshot:
        """Move the status if it is in ``allowed_from`` (or already there); one transaction, row-locked."""
        async with self._sessions() as session, session.begin():
            record = (
                await session.execute(
                    select(Vaccination)
                    .where(
                        Vaccination.id == change.vaccination_id, Vaccination.business_id == change.business_id
                    )
                    .with_for_update()
                )
            ).scalar_one_or_none()
            if record is None:
                raise ApplicationError(
                    "the vaccination record is gone", type="VaccinationMissing", non_retryable=True
                )
            if record.status.value != change.status and record.status.value in change.allowed_from:
                record.status = VaccinationStatus(change.status)
        async with self._sessions() as session:
            return await vaccination_snapshot(session, change.vaccination_id, change.business_id)


async def vaccination_snapshot(
    session: AsyncSession, vaccination_id: int, business_id: int
) -> VaccinationSnapshot:
    """The record with its alert moments; the API uses it to start the workflow, the activity to reload."""
    row = (
        await session.execute(
            select(Vaccination, Pet, Business)
            .join(Pet, Pet.id == Vaccination.pet_id)
            .join(Business, Business.id == Vaccination.business_id)
            .where(Vaccination.id == vaccination_id, Vaccination.business_id == business_id)
        )
    ).one_or_none()
    if row is None:
        raise ApplicationError(
            "the vaccination record is gone", type="VaccinationMissing", non_retryable=True
        )
    record, pet, business = row
    settings = AutomationSettings.model_validate(business.automation or {})
    moments = expiry_moments(
        record.expires_at,
        settings.vaccination_alert_days,
        settings.expiry_alert_local_time,
        ZoneInfo(business.time_zone),
    )
    return VaccinationSnapshot(
        vaccination_id=record.id,
        business_id=record.business_id,
        owner_id=pet.owner_id,
        status=record.status.value,
        expires_at=record.expires_at,
        alerts=[ExpiryAlert(days_before=m.days_before, at=m.at) for m in moments],
    )
