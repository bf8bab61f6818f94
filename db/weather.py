"""Weather runs and snapshots: which zone-days are due, which projects still need the day's fetch, and the
one transaction that stores a project's forecast and copies it into its daily plans."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Select, and_, literal_column, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Business, DailyPlan, Project, WeatherRun, WeatherSnapshot
from domain.statuses import ProjectStatus
from domain.timekeeping import zone_or_none
from domain.weather import MAX_ATTEMPTS, DailyWeather, ZoneDay, due_day


@dataclass(frozen=True)
class SiteToFetch:
    project_id: int
    business_id: int
    latitude: float
    longitude: float


@dataclass(frozen=True)
class Stored:
    created: int
    updated: int
    plans: int


def _active_sites(zone: str, run_date: date) -> Select[int, int, float | None, float | None]:
    """Active projects (no end date, or one not passed) with a location, of companies in ``zone``."""
    return (
        select(Project.id, Project.business_id, Project.latitude, Project.longitude)
        .join(Business, Business.id == Project.business_id)
        .where(
            Business.time_zone == zone,
            Project.status == ProjectStatus.ACTIVE,
            or_(Project.ends_on.is_(None), Project.ends_on >= run_date),
            Project.latitude.is_not(None),
        )
    )


async def due_zone_days(session: AsyncSession, at: datetime) -> list[ZoneDay]:
    """Each zone with a located active project whose run for its local day is due at ``at`` and neither
    finished nor out of attempts (a zone this machine does not know is left out: ``unknown_zones``)."""
    zones = await _site_zones(session)
    due = [
        ZoneDay(time_zone=zone, run_date=day)
        for zone in zones
        if (known := zone_or_none(zone)) is not None and (day := due_day(at, known)) is not None
    ]
    if not due:
        return []
    done = await session.execute(
        select(WeatherRun.time_zone, WeatherRun.run_date).where(
            or_(*(and_(WeatherRun.time_zone == z.time_zone, WeatherRun.run_date == z.run_date) for z in due)),
            or_(WeatherRun.finished_at.is_not(None), WeatherRun.attempts >= MAX_ATTEMPTS),
        )
    )
    finished = {(zone, day) for zone, day in done.all()}
    return [z for z in due if (z.time_zone, z.run_date) not in finished]


async def begin_attempt(session: AsyncSession, zone_day: ZoneDay) -> int:
    """Count one more attempt of the zone-day (the row is made by the first). Commits; returns the count."""
    async with session.begin():
        attempts = await session.scalar(
            insert(WeatherRun)
            .values(time_zone=zone_day.time_zone, run_date=zone_day.run_date, attempts=1)
            .on_conflict_do_update(
                index_elements=["time_zone", "run_date"], set_={"attempts": WeatherRun.attempts + 1}
            )
            .returning(WeatherRun.attempts)
        )
    return int(attempts or 0)


async def sites_to_fetch(session: AsyncSession, zone_day: ZoneDay) -> list[SiteToFetch]:
    """The zone's active located projects whose run-day snapshot this local day has not written yet."""
    refreshed = (
        select(WeatherSnapshot.id)
        .where(
            WeatherSnapshot.project_id == Project.id,
            WeatherSnapshot.day == zone_day.run_date,
            WeatherSnapshot.refreshed_on == zone_day.run_date,
        )
        .exists()
    )
    rows = await session.execute(
        _active_sites(zone_day.time_zone, zone_day.run_date).where(~refreshed).order_by(Project.id)
    )
    return [
        SiteToFetch(pid, bid, lat, lon)
        for pid, bid, lat, lon in rows.all()
        if lat is not None and lon is not None  # the query asks for located sites only
    ]


async def store_forecast(
    session: AsyncSession, site: SiteToFetch, days: list[DailyWeather], refreshed_on: date, at: datetime
) -> Stored:
    """Create or update the project's snapshot of each day (UNIQUE per project and day) and copy each into
    the project's daily plan of that day. One transaction. Commits."""
    created = updated = 0
    async with session.begin():
        for weather in days:
            figures = weather.model_dump(exclude={"day"})
            inserted = await session.scalar(
                insert(WeatherSnapshot)
                .values(
                    business_id=site.business_id,
                    project_id=site.project_id,
                    day=weather.day,
                    refreshed_on=refreshed_on,
                    fetched_at=at,
                    **figures,
                )
                .on_conflict_do_update(
                    index_elements=["project_id", "day"],
                    set_={**figures, "refreshed_on": refreshed_on, "fetched_at": at},
                )
                # xmax is 0 on a row this statement inserted, the updating transaction's id otherwise
                .returning(literal_column("xmax = 0"))
            )
            created, updated = (created + 1, updated) if inserted else (created, updated + 1)
        plans = 0
        for weather in days:
            changed = await session.execute(
                update(DailyPlan)
                .where(DailyPlan.project_id == site.project_id, DailyPlan.plan_date == weather.day)
                .values(weather=weather.stored())
            )
            plans += changed.rowcount  # type: ignore[attr-defined]
    return Stored(created, updated, plans)


async def finish_attempt(
    session: AsyncSession,
    zone_day: ZoneDay,
    stored: Stored,
    failed: int,
    last_error: str | None,
    at: datetime,
) -> WeatherRun:
    """Add the attempt's figures to the zone-day's run; finished when nothing failed. Commits."""
    async with session.begin():
        run = await session.get(WeatherRun, (zone_day.time_zone, zone_day.run_date), with_for_update=True)
        assert run is not None  # begin_attempt made it
        run.created += stored.created
        run.updated += stored.updated
        run.failed = failed
        run.last_error = last_error
        if failed == 0:
            run.finished_at = at
    return run


async def snapshots_of(session: AsyncSession, business_id: int, project_id: int) -> list[WeatherSnapshot]:
    rows = await session.scalars(
        select(WeatherSnapshot)
        .where(WeatherSnapshot.business_id == business_id, WeatherSnapshot.project_id == project_id)
        .order_by(WeatherSnapshot.day)
    )
    return list(rows)


async def unknown_zones(session: AsyncSession) -> list[str]:
    """Zones of companies with located active projects that this machine does not know (their sites get
    no weather; the job's result names them)."""
    return [zone for zone in await _site_zones(session) if zone_or_none(zone) is None]


async def _site_zones(session: AsyncSession) -> list[str]:
    """The zones of the companies with located active projects, in order."""
    zones = await session.scalars(
        select(Business.time_zone)
        .join(Project, Project.business_id == Business.id)
        .where(Project.status == ProjectStatus.ACTIVE, Project.latitude.is_not(None))
        .distinct()
        .order_by(Business.time_zone)
    )
    return list(zones)


def daily_weather(snapshot: WeatherSnapshot) -> DailyWeather:
    """A stored snapshot as the day's weather (what a daily plan keeps and the API shows)."""
    return DailyWeather(
        day=snapshot.day,
        temperature_max_c=snapshot.temperature_max_c,
        temperature_min_c=snapshot.temperature_min_c,
        conditions=snapshot.conditions,
        weather_code=snapshot.weather_code,
        precipitation_mm=snapshot.precipitation_mm,
        wind_max_kmh=snapshot.wind_max_kmh,
        humidity_pct=snapshot.humidity_pct,
    )
