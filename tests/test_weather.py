"""Construction weather: reading Open-Meteo's answer, the zone's 05:00 across DST, and the job on real
PostgreSQL against a local Open-Meteo-shaped server that fails, stalls and talks nonsense: created/updated/
failed, each (project, day) once, the daily plans' copy, retries bounded, a dead API given up on quickly."""

from __future__ import annotations

import math
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from hypothesis import given
from hypothesis import settings as examples
from hypothesis import strategies as st
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from activities.payroll import PayrollActivities
from activities.weather import WeatherActivities
from activities.weather_api import WeatherApi
from db import daily_plans, payroll, project_digest
from db import weather as store
from db.engine import SessionFactory
from db.models import Business, DailyPlan, Project, WeatherRun, WeatherSnapshot
from domain.job_types import JobMetrics, WeeklyPayrollInput
from domain.statuses import ProjectStatus
from domain.task_queues import MAINTENANCE
from domain.weather import (
    DAILY_VARIABLES,
    MAX_ATTEMPTS,
    ForecastUnreadable,
    WeatherRunInput,
    ZoneDay,
    due_day,
    forecast_query,
    read_forecast,
)
from keeptime.settings import Settings
from tests.factories import make_business
from tests.support import running_worker
from tests.weather_peer import WeatherPeer
from workflows.jobs import WeatherWorkflow

DAY = date(2027, 4, 12)


def _answer(days: list[str], **columns: list[object]) -> dict[str, object]:
    return {"daily": {"time": days, **columns}}


def test_the_answer_is_read_day_by_day_with_nulls_kept_and_nonsense_refused() -> None:
    wanted = [DAY, DAY + timedelta(days=1)]
    body = _answer(
        ["2027-04-11", "2027-04-12", "2027-04-13"],
        weather_code=[0, 63, 999],
        temperature_2m_max=[1, 12.5, None],
        relative_humidity_2m_mean=[50, None, 80],
    )
    first, second = read_forecast(body, wanted)
    assert (first.day, first.conditions, first.temperature_max_c, first.humidity_pct) == (
        DAY,
        "moderate rain",
        12.5,
        None,
    )
    assert (second.conditions, second.temperature_max_c, second.precipitation_mm) == (
        "WMO code 999",
        None,
        None,
    )
    for bad, reason in (
        ([], "not a JSON object"),
        ({"error": True, "reason": "Latitude must be in range"}, "refused: Latitude must be in range"),
        ({"hourly": {}}, "no daily forecast"),
        (_answer(["2027-04-12"], temperature_2m_max=[1, 2]), "do not match"),
        (_answer(["2027-04-12"], temperature_2m_max=["warm"]), "not a number"),
        (_answer(["2027-04-12"], temperature_2m_max=[True]), "not a number"),
        (_answer(["2027-04-12"], temperature_2m_max=[float("nan")]), "not a number"),
        (_answer(["2027-04-12"], temperature_2m_max=[1e9]), "out of range"),
        (_answer(["12/04/2027"]), "not a date"),
        (_answer(["2030-01-01"]), "none of the days"),
    ):
        with pytest.raises(ForecastUnreadable, match=reason):
            read_forecast(bad, wanted)


def test_a_zones_run_is_due_from_05_00_local_across_dst() -> None:
    berlin = ZoneInfo("Europe/Berlin")  # springs forward on Sunday 28 March 2027, 02:00 -> 03:00
    assert due_day(datetime(2027, 3, 28, 2, 59, tzinfo=UTC), berlin) is None  # 04:59 CEST
    assert due_day(datetime(2027, 3, 28, 3, 0, tzinfo=UTC), berlin) == date(2027, 3, 28)  # 05:00 CEST
    assert due_day(datetime(2027, 3, 27, 3, 59, tzinfo=UTC), berlin) is None  # 04:59 CET
    assert due_day(datetime(2027, 3, 27, 4, 0, tzinfo=UTC), berlin) == date(2027, 3, 27)
    kathmandu = ZoneInfo("Asia/Kathmandu")  # +05:45: 05:00 local is 23:15 UTC the day before
    assert due_day(datetime(2027, 4, 11, 23, 15, tzinfo=UTC), kathmandu) == DAY
    query = forecast_query(27.7, 85.3, ZoneDay(time_zone="Asia/Kathmandu", run_date=DAY))
    assert (query["start_date"], query["end_date"], query["timezone"]) == (
        "2027-04-12",
        "2027-04-14",
        "Asia/Kathmandu",
    )


@pytest.fixture
async def weather_peer() -> AsyncIterator[WeatherPeer]:
    peer = WeatherPeer()
    await peer.start()
    yield peer
    await peer.stop()


@pytest.fixture
async def weather_job(
    sessions: SessionFactory, weather_peer: WeatherPeer
) -> AsyncIterator[WeatherActivities]:
    async with aiohttp.ClientSession() as http:
        yield WeatherActivities(sessions, WeatherApi(http, weather_peer.url, timeout_s=0.5))


async def _company(sessions: SessionFactory, zone: str) -> int:
    return (await make_business(sessions, name=f"Builders {uuid.uuid4().hex[:6]}", time_zone=zone)).id


async def _project(
    sessions: SessionFactory, business_id: int, latitude: float | None, **values: object
) -> int:
    async with sessions() as session, session.begin():
        project = Project(
            business_id=business_id,
            name="Site",
            latitude=latitude,
            longitude=None if latitude is None else 10.5,
            **values,
        )
        session.add(project)
    return project.id


def _at(zone: str, day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZoneInfo(zone)).astimezone(UTC)


def _zone_details(metrics: JobMetrics, zone: str) -> list[str]:
    return [line for line in metrics.details if line.startswith(zone)]


async def _run_of(sessions: SessionFactory, zone: str, day: date) -> WeatherRun | None:
    async with sessions() as session:
        return await session.get(WeatherRun, (zone, day))


async def test_the_morning_run_stores_each_sites_days_once_and_fills_the_daily_plans(
    sessions: SessionFactory, weather_peer: WeatherPeer, weather_job: WeatherActivities
) -> None:
    zone = "America/Regina"  # 05:00 local is 11:00 UTC (no DST)
    business_id = await _company(sessions, zone)
    site = await _project(sessions, business_id, 50.1111)
    ended = await _project(sessions, business_id, 50.2222, ends_on=DAY - timedelta(days=1))
    ends_today = await _project(sessions, business_id, 50.3333, ends_on=DAY)
    await _project(sessions, business_id, 50.4444, status=ProjectStatus.COMPLETED)
    await _project(sessions, business_id, None)  # no location: nothing to ask for
    async with sessions() as session:
        plans = [
            (await daily_plans.create(session, business_id, site, DAY + timedelta(days=n))).plan.id
            for n in (0, 1, 3)
        ]

    early = await weather_job.refresh_due_weather(WeatherRunInput(at=_at(zone, DAY, 4, 59)))
    assert _zone_details(early, zone) == [] and weather_peer.asked_for("50.1111") == 0

    first = await weather_job.refresh_due_weather(WeatherRunInput(at=_at(zone, DAY, 5, 0)))
    assert _zone_details(first, zone) == [f"{zone} {DAY} (attempt 1): 2 projects, 6 created, 0 updated"]
    assert [weather_peer.asked_for(lat) for lat in ("50.1111", "50.2222", "50.3333", "50.4444")] == [
        1,
        0,
        1,
        0,
    ]
    async with sessions() as session:
        stored = (
            await session.scalars(select(WeatherSnapshot).where(WeatherSnapshot.project_id == site))
        ).all()
        weather = {
            p.id: p.weather for p in (await session.scalars(select(DailyPlan).where(DailyPlan.id.in_(plans))))
        }
    assert sorted(s.day for s in stored) == [DAY, DAY + timedelta(days=1), DAY + timedelta(days=2)]
    today, tomorrow = weather[plans[0]] or {}, weather[plans[1]] or {}
    assert (today.get("conditions"), today.get("temperature_max_c")) == ("slight rain", 21.5)
    assert tomorrow.get("temperature_max_c") == 22.5
    assert weather[plans[2]] is None  # three days out: not fetched yet
    run = await _run_of(sessions, zone, DAY)
    assert run is not None and (run.created, run.failed, run.finished_at is not None) == (6, 0, True)

    # The same day again (a second trigger, a catch-up): nothing is asked, nothing changes.
    again = await weather_job.refresh_due_weather(WeatherRunInput(at=_at(zone, DAY, 9, 30)))
    assert _zone_details(again, zone) == [] and weather_peer.asked_for("50.1111") == 1

    # The next morning: two days updated with the newer forecast, one created; a plan made later starts
    # with its day's forecast.
    weather_peer.temperature = 5.0
    next_day = DAY + timedelta(days=1)
    second = await weather_job.refresh_due_weather(WeatherRunInput(at=_at(zone, next_day, 5, 7)))
    assert _zone_details(second, zone) == [f"{zone} {next_day} (attempt 1): 1 projects, 1 created, 2 updated"]
    assert weather_peer.asked_for("50.3333") == 1  # its end date has passed
    async with sessions() as session:
        refreshed = await session.get(DailyPlan, plans[1])
        assert refreshed is not None and refreshed.weather is not None
        assert refreshed.weather["temperature_max_c"] == 5.0
    async with sessions() as session:
        late_plan = await daily_plans.create(session, business_id, site, next_day + timedelta(days=2))
    assert late_plan.plan.weather is not None and late_plan.plan.weather["humidity_pct"] is None
    assert ends_today != ended


async def test_failed_fetches_are_recorded_retried_a_bounded_number_of_times_and_given_up_on(
    sessions: SessionFactory, weather_peer: WeatherPeer, weather_job: WeatherActivities
) -> None:
    zone = "Asia/Kathmandu"
    business_id = await _company(sessions, zone)
    await _project(sessions, business_id, 27.7001)
    await _project(sessions, business_id, 27.7002)
    await _project(sessions, business_id, 27.7003)
    weather_peer.failing.add("27.7001")
    weather_peer.slow.add("27.7002")
    weather_peer.nonsense.add("27.7003")
    at = _at(zone, DAY, 5, 0)

    first = await weather_job.refresh_due_weather(WeatherRunInput(at=at))
    details = _zone_details(first, zone)
    assert details[0] == f"{zone} {DAY} (attempt 1): 3 projects, 0 created, 0 updated"
    assert {line.split(": ", 1)[1] for line in first.details if "27.700" in line or "project" in line} >= {
        "HTTP 500: upstream model unavailable",
        "no answer within 0.5 s",
        "temperature_2m_max is not a number: 'hot'",
    }
    assert first.counts["failed"] >= 3 and first.errors >= 3
    run = await _run_of(sessions, zone, DAY)
    assert run is not None and (run.attempts, run.failed, run.finished_at) == (1, 3, None)

    # The API recovers for two of them: the next run fetches only those not yet stored today.
    weather_peer.failing.clear()
    weather_peer.nonsense.clear()
    second = await weather_job.refresh_due_weather(WeatherRunInput(at=at + timedelta(minutes=15)))
    assert _zone_details(second, zone)[0] == f"{zone} {DAY} (attempt 2): 3 projects, 6 created, 0 updated"
    assert [weather_peer.asked_for(lat) for lat in ("27.7001", "27.7002", "27.7003")] == [2, 2, 2]
    # The slow one keeps failing: tried MAX_ATTEMPTS times in all, then left (visible in weather_runs).
    for n in range(3, MAX_ATTEMPTS + 3):
        await weather_job.refresh_due_weather(WeatherRunInput(at=at + timedelta(minutes=15 * n)))
    assert weather_peer.asked_for("27.7002") == MAX_ATTEMPTS
    assert [weather_peer.asked_for(lat) for lat in ("27.7001", "27.7003")] == [2, 2]
    run = await _run_of(sessions, zone, DAY)
    assert run is not None and (run.attempts, run.failed, run.finished_at) == (MAX_ATTEMPTS, 1, None)
    assert (run.last_error or "").endswith(": no answer within 0.5 s")


async def test_a_dead_api_is_given_up_on_after_five_failures_in_a_row(
    sessions: SessionFactory, weather_peer: WeatherPeer, weather_job: WeatherActivities
) -> None:
    zone = "Pacific/Chatham"
    business_id = await _company(sessions, zone)
    latitudes = [f"-43.{n:04d}" for n in range(10)]
    for latitude in latitudes:
        await _project(sessions, business_id, float(latitude))
    weather_peer.failing.update(latitudes)

    metrics = await weather_job.refresh_due_weather(WeatherRunInput(at=_at(zone, DAY, 5, 0)))
    asked = sum(weather_peer.asked_for(latitude) for latitude in latitudes)
    assert 5 <= asked <= 8  # five failed in a row; at most three more were already asking
    not_tried = [line for line in metrics.details if "not tried" in line]
    assert len(not_tried) == 10 - asked
    run = await _run_of(sessions, zone, DAY)
    assert run is not None and run.failed == 10


async def test_the_scheduled_workflow_runs_the_job_and_a_second_run_changes_nothing(
    skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    settings: Settings,
    weather_peer: WeatherPeer,
) -> None:
    zone = "America/Phoenix"
    business_id = await _company(sessions, zone)
    await _project(sessions, business_id, 33.4484)
    at = _at(zone, DAY, 5, 10)

    async def run() -> JobMetrics:
        return await skipping_env.client.execute_workflow(
            WeatherWorkflow.run,
            WeatherRunInput(at=at),
            id=f"test-weather-{uuid.uuid4()}",
            task_queue=MAINTENANCE,
        )

    job_settings = settings.model_copy(update={"weather_api_url": weather_peer.url})
    async with running_worker(skipping_env.client, sessions, job_settings):
        first, second = await run(), await run()
    assert _zone_details(first, zone) == [f"{zone} {DAY} (attempt 1): 1 projects, 3 created, 0 updated"]
    assert _zone_details(second, zone) == [] and weather_peer.asked_for("33.4484") == 1
    async with sessions() as session:
        assert (
            len(
                await store.snapshots_of(
                    session, business_id, (await daily_plans.projects(session, business_id))[0].id
                )
            )
            == 3
        )


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
_column = st.lists(st.none() | st.integers() | st.floats() | st.text(max_size=4) | st.booleans(), max_size=4)


@examples(max_examples=300, deadline=None)
@given(
    body=_json
    | st.fixed_dictionaries(
        {
            "daily": st.fixed_dictionaries(
                {"time": st.lists(st.sampled_from(["2027-04-12", "2027-04-13", "x"]), max_size=4)},
                optional={name: _column for name in DAILY_VARIABLES},
            )
        }
    )
)
def test_any_answer_is_a_forecast_or_a_named_refusal(body: object) -> None:
    """Whatever a server answers, reading it gives stored-range figures or ForecastUnreadable: never
    another exception (a wedged job), never a value the snapshot's columns cannot carry."""
    try:
        days = read_forecast(body, [DAY, DAY + timedelta(days=1)])
    except ForecastUnreadable:
        return
    for weather in days:
        for value in weather.model_dump(exclude={"day", "conditions"}).values():
            assert value is None or (math.isfinite(value) and abs(value) <= 10_000)


async def test_a_company_with_a_zone_this_machine_does_not_know_fails_its_own_line_only(
    sessions: SessionFactory, weather_peer: WeatherPeer, weather_job: WeatherActivities
) -> None:
    """A zone edited by hand (or dropped by tzdata) used to fail the whole run of every company's weather,
    payroll and digests, retried and failed again at every run: now that one company is named, the rest go."""
    bad = await _company(sessions, "Mars/Olympus_Mons")
    good = await _company(sessions, "America/Halifax")
    await _project(sessions, bad, 18.6501)
    await _project(sessions, good, 44.6488)
    async with sessions() as session:
        await payroll.add_employee(session, bad, {"name": "Jo", "hourly_rate_cents": 2_000}, key=None)
    try:
        metrics = await weather_job.refresh_due_weather(WeatherRunInput(at=_at("America/Halifax", DAY, 6, 0)))
        assert "unknown time zone 'Mars/Olympus_Mons': its sites get no weather" in metrics.details
        assert _zone_details(metrics, "America/Halifax")[0].endswith("1 projects, 3 created, 0 updated")
        assert weather_peer.asked_for("18.6501") == 0
        paid = await PayrollActivities(sessions).create_due_payrolls(
            WeeklyPayrollInput(at=datetime(2027, 4, 12, 15, 0, tzinfo=UTC))
        )
        assert f"business {bad}: unknown time zone 'Mars/Olympus_Mons'" in paid.details and paid.errors == 1
        async with sessions() as session:
            due = await project_digest.due_digests(session, datetime(2027, 4, 12, 15, 0, tzinfo=UTC), 1_000)
        assert all(request.business_id != bad for request in due)  # no Monday to send at: skipped, no error
    finally:
        async with sessions() as session, session.begin():
            await session.delete(await session.get(Business, bad))
