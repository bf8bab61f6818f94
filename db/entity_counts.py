"""How many entities there are by status: the gauge behind the API's ``keeptime_entities`` metric."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Appointment, Policy, Vaccination

_STATUS_COLUMNS = {
    "appointment": Appointment.status,
    "vaccination": Vaccination.status,
    "policy": Policy.status,
}


async def entities_by_status(session: AsyncSession) -> dict[tuple[str, str], int]:
    """(entity, status) -> rows; an open status (confirmed, active, valid ...) means a sleeping workflow."""
    counts: dict[tuple[str, str], int] = {}
    for entity, column in _STATUS_COLUMNS.items():
        rows = await session.execute(select(column, func.count()).group_by(column))
        for status, count in rows.all():
            counts[(entity, str(status))] = count
    return counts
