"""The weather job's activity: for every zone whose 05:00 has come, fetch each active located project's
forecast, store the snapshots and copy them into the daily plans; report created/updated/failed.

One project's failure is one failed fetch (its reason in the run's details and ``weather_runs``), never the
run's: the others are fetched, and the zone-day is tried again by the next runs (``MAX_ATTEMPTS``). After
``GIVE_UP_AFTER`` fetches in a row failed to reach the API, the attempt stops asking (the rest are counted
failed, "not tried"): a dead API costs a few timeouts, not one per project. The job is its own Schedule and
workflow, so a failing weather API never holds another job.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from temporalio import activity

from activities.weather_api import WeatherApi, WeatherUnavailable
from db import weather as store
from db.engine import SessionFactory
from domain.job_types import JobMetrics
from domain.weather import ForecastUnreadable, WeatherRunInput, ZoneDay

CONCURRENT_FETCHES = 4
GIVE_UP_AFTER = 5


class WeatherActivities:
    def __init__(self, sessions: SessionFactory, api: WeatherApi) -> None:
        self._sessions = sessions
        self._api = api

    @activity.defn
    async def refresh_due_weather(self, run: WeatherRunInput) -> JobMetrics:
        assert run.at is not None  # the workflow fixes it
        began = time.monotonic()
        metrics = JobMetrics(job="weather")
        async with self._sessions() as session:
            due = await store.due_zone_days(session, run.at)
            unknown = await store.unknown_zones(session)
        if unknown:
            metrics = metrics.plus(
                0,
                0,
                0.0,
                len(unknown),
                [f"unknown time zone {zone!r}: its sites get no weather" for zone in unknown],
            )
        for zone_day in due:
            metrics = await self._refresh_zone(zone_day, metrics)
        return metrics.model_copy(update={"duration_s": round(time.monotonic() - began, 3)})

    async def _refresh_zone(self, zone_day: ZoneDay, metrics: JobMetrics) -> JobMetrics:
        async with self._sessions() as session:
            attempt = await store.begin_attempt(session, zone_day)
            sites = await store.sites_to_fetch(session, zone_day)
        created = updated = plans = 0
        failures: list[str] = []
        unreachable_in_a_row = 0
        gate = asyncio.Semaphore(CONCURRENT_FETCHES)

        async def fetch(site: store.SiteToFetch) -> store.Stored | str:
            nonlocal unreachable_in_a_row
            async with gate:
                if unreachable_in_a_row >= GIVE_UP_AFTER:
                    return f"project {site.project_id}: not tried, {GIVE_UP_AFTER} fetches in a row failed"
                try:
                    days = await self._api.forecast(site.latitude, site.longitude, zone_day)
                except (WeatherUnavailable, ForecastUnreadable) as error:
                    if isinstance(error, WeatherUnavailable):
                        unreachable_in_a_row += 1
                    return f"project {site.project_id}: {error}"
                finally:
                    if activity.in_activity():
                        activity.heartbeat(site.project_id)
                unreachable_in_a_row = 0
                async with self._sessions() as session:
                    return await store.store_forecast(
                        session, site, days, zone_day.run_date, datetime.now(UTC)
                    )

        for outcome in await asyncio.gather(*(fetch(site) for site in sites)):
            if isinstance(outcome, str):
                failures.append(outcome)
            else:
                created, updated = created + outcome.created, updated + outcome.updated
                plans += outcome.plans
        totals = store.Stored(created, updated, plans)
        async with self._sessions() as session:
            await store.finish_attempt(
                session, zone_day, totals, len(failures), failures[0] if failures else None, datetime.now(UTC)
            )
        where = f"{zone_day.time_zone} {zone_day.run_date} (attempt {attempt})"
        counts = {
            "created": metrics.counts.get("created", 0) + created,
            "updated": metrics.counts.get("updated", 0) + updated,
            "failed": metrics.counts.get("failed", 0) + len(failures),
            "plans_updated": metrics.counts.get("plans_updated", 0) + plans,
        }
        details = [f"{where}: {len(sites)} projects, {created} created, {updated} updated", *failures]
        return metrics.plus(len(sites), created + updated, 0.0, len(failures), details).model_copy(
            update={"counts": counts}
        )
