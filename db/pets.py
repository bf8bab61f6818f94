"""Pets and their vaccination records, for the API and the vaccination service."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db import pages
from db.models import Business, Pet, Vaccination
from domain.automation import AutomationSettings
from domain.expiry import expiry_moments
from domain.statuses import VaccinationStatus
from domain.vaccination_types import ExpiryAlert, VaccinationSnapshot

ACTIVE = (VaccinationStatus.VALID, VaccinationStatus.EXPIRING_SOON)


async def create_pet(session: AsyncSession, business_id: int, values: dict[str, Any]) -> Pet:
    pet = Pet(business_id=business_id, **values)
    session.add(pet)
    await session.commit()
    return pet


async def pet_of(session: AsyncSession, business_id: int, pet_id: int) -> Pet | None:
    pet = await session.get(Pet, pet_id)
    return pet if pet is not None and pet.business_id == business_id else None


async def add_vaccination(
    session: AsyncSession, business_id: int, values: dict[str, Any]
) -> tuple[Vaccination, list[int]]:
    """Insert the record and supersede the pet's active records of the same vaccine. Returns their ids."""
    async with session.begin():
        record = Vaccination(business_id=business_id, **values)
        session.add(record)
        await session.flush()
        superseded = await session.execute(
            update(Vaccination)
            .where(
                Vaccination.business_id == business_id,
                Vaccination.pet_id == record.pet_id,
                Vaccination.vaccine == record.vaccine,
                Vaccination.id != record.id,
                Vaccination.status.in_(ACTIVE),
            )
            .values(status=VaccinationStatus.SUPERSEDED, superseded_by=record.id)
            .returning(Vaccination.id)
        )
        older = list(superseded.scalars())
    return record, older


SOONEST_FIRST: pages.Order[tuple[Vaccination, Pet]] = pages.Order(
    "expires_at",
    (
        pages.Key(Vaccination.expires_at, lambda row: row[0].expires_at, datetime),
        pages.Key(Vaccination.id, lambda row: row[0].id),
    ),
)


async def upcoming_expiries(
    session: AsyncSession, business_id: int, before: datetime, limit: int, after: str | None = None
) -> tuple[list[tuple[Vaccination, Pet]], str | None]:
    """A page of active records expiring before ``before``, soonest first, and the next page's cursor.
    ``after``: a cursor this list answered (else ``BadCursor``)."""
    position = SOONEST_FIRST.position(after) if after is not None else None
    statement = (
        select(Vaccination, Pet)
        .join(Pet, Pet.id == Vaccination.pet_id)
        .where(
            Vaccination.business_id == business_id,
            Vaccination.status.in_(ACTIVE),
            Vaccination.expires_at < before,
        )
    )
    rows = await session.execute(pages.ordered(statement, SOONEST_FIRST, position, limit))
    return pages.page([(record, pet) for record, pet in rows.all()], SOONEST_FIRST, limit)


async def vaccination_of(
    session: AsyncSession, business_id: int, vaccination_id: int, *, lock: bool = False
) -> Vaccination | None:
    """The business's vaccination record (row-locked until the transaction ends with ``lock``)."""
    record = await session.get(Vaccination, vaccination_id, with_for_update=lock)
    return record if record is not None and record.business_id == business_id else None


async def vaccination_snapshot(session: AsyncSession, record: Vaccination) -> VaccinationSnapshot:
    """What the workflow plans with: the record, its owner and the alert moments of its business."""
    pet = await session.get(Pet, record.pet_id)
    business = await session.get(Business, record.business_id)
    assert pet is not None and business is not None  # foreign keys
    settings = AutomationSettings.from_stored(business.automation).settings
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
        settings_revision=business.settings_revision,
    )


async def active_vaccinations(session: AsyncSession) -> list[Vaccination]:
    rows = await session.execute(select(Vaccination).where(Vaccination.status.in_(ACTIVE)))
    return list(rows.scalars())
