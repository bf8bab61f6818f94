"""Stored statistics: a business's figures (computed on demand with the daily job's statement) and the
platform's daily figures."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import ColumnElement, Date, cast, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from db.batch_statements import BUSINESS_STATS
from db.models import Appointment, BusinessStats, Customer, PlatformDailyStats, Review
from domain.job_types import PlatformStatsResult


async def refresh_business_stats(session: AsyncSession, business_id: int) -> BusinessStats:
    """Recompute one business's figures now (the ``business-stats`` job's statement, for one business)."""
    async with session.begin():
        await session.execute(
            BUSINESS_STATS,
            {"after": 0, "limit": 1, "only": business_id, "now": datetime.now(UTC)},
        )
    stats = await session.get(BusinessStats, business_id, populate_existing=True)
    assert stats is not None
    return stats


async def platform_days(session: AsyncSession, limit: int) -> list[PlatformDailyStats]:
    rows = await session.execute(
        select(PlatformDailyStats).order_by(PlatformDailyStats.day.desc()).limit(limit)
    )
    return list(rows.scalars())


async def platform_figures(session: AsyncSession, day: date) -> PlatformStatsResult:
    """Appointments starting that day by status, customers and reviews created that day, and businesses with
    any appointment that day (UTC)."""
    by_status = dict(
        (
            await session.execute(
                select(Appointment.status, func.count())
                .where(_on(Appointment.starts_at, day))
                .group_by(Appointment.status)
            )
        ).all()
    )
    active = await session.scalar(
        select(func.count(func.distinct(Appointment.business_id))).where(_on(Appointment.starts_at, day))
    )
    new_customers = await session.scalar(
        select(func.count()).select_from(Customer).where(_on(Customer.created_at, day))
    )
    reviews, average = (
        await session.execute(
            select(func.count(), func.avg(Review.rating)).where(_on(Review.created_at, day))
        )
    ).one()
    return PlatformStatsResult(
        day=day.isoformat(),
        appointments_by_status={status.value: int(n) for status, n in by_status.items()},
        new_customers=int(new_customers or 0),
        active_businesses=int(active or 0),
        reviews=int(reviews or 0),
        average_rating=round(float(average), 2) if average is not None else None,
    )


async def store_platform_figures(session: AsyncSession, day: date) -> PlatformStatsResult:
    """Compute one day's figures and store them (recomputing a day overwrites it)."""
    result = await platform_figures(session, day)
    values = result.model_dump(exclude={"day"})
    await session.execute(
        insert(PlatformDailyStats)
        .values(day=day, **values)
        .on_conflict_do_update(
            index_elements=[PlatformDailyStats.day], set_={**values, "computed_at": func.now()}
        )
    )
    return result


def _on(column: InstrumentedAttribute[datetime], day: date) -> ColumnElement[bool]:
    """``column`` (a timestamp) falls on the UTC ``day``."""
    return cast(func.timezone("UTC", column), Date) == day
