"""Vaccination activities: the record with its alert moments, and its status changes."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from db import pets
from db.engine import SessionFactory
from db.models import Vaccination
from domain.statuses import VaccinationStatus
from domain.vaccination_types import SetVaccinationStatusInput, VaccinationRef, VaccinationSnapshot


class VaccinationActivities:
    def __init__(self, sessions: SessionFactory) -> None:
        self._sessions = sessions

    @activity.defn
    async def load_vaccination(self, ref: VaccinationRef) -> VaccinationSnapshot:
        async with self._sessions() as session:
            record = await _vaccination(session, ref.business_id, ref.vaccination_id, lock=False)
            return await pets.vaccination_snapshot(session, record)

    @activity.defn
    async def set_vaccination_status(self, change: SetVaccinationStatusInput) -> VaccinationSnapshot:
        """Move the status if it is in ``allowed_from`` (or already there); one transaction, row-locked."""
        async with self._sessions() as session, session.begin():
            record = await _vaccination(session, change.business_id, change.vaccination_id, lock=True)
            if record.status.value != change.status and record.status.value in change.allowed_from:
                record.status = VaccinationStatus(change.status)
        async with self._sessions() as session:
            record = await _vaccination(session, change.business_id, change.vaccination_id, lock=False)
            return await pets.vaccination_snapshot(session, record)


async def _vaccination(
    session: AsyncSession, business_id: int, vaccination_id: int, *, lock: bool
) -> Vaccination:
    record = await pets.vaccination_of(session, business_id, vaccination_id, lock=lock)
    if record is None:
        raise ApplicationError(
            "the vaccination record is gone", type="VaccinationMissing", non_retryable=True
        )
    return record
