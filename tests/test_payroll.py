"""Weekly payroll: the due week in a company's zone across DST, one period per company and week however
often it is triggered, an audited recalculation, approval freezing it; the job on the time-skipping server."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from temporalio.testing import WorkflowEnvironment

from db import payroll, staff
from db.engine import SessionFactory
from domain.job_types import JobMetrics, WeeklyPayrollInput
from domain.payroll import CATCH_UP_WEEKS, due_week, pay_cents, weeks_due
from domain.task_queues import MAINTENANCE
from keeptime.settings import Settings
from tests.factories import make_business
from tests.support import running_worker
from workflows.jobs import WeeklyPayrollWorkflow

CHICAGO = ZoneInfo("America/Chicago")


def test_the_week_is_due_monday_07_00_company_local_across_dst() -> None:
    # Chicago springs forward on Sunday 14 March 2027: Monday 07:00 is 12:00 UTC (CDT), not 13:00 (CST).
    assert due_week(datetime(2027, 3, 15, 11, 59, tzinfo=UTC), CHICAGO) == date(2027, 3, 1)
    assert due_week(datetime(2027, 3, 15, 12, 0, tzinfo=UTC), CHICAGO) == date(2027, 3, 8)
    # the Monday before, still CST: 07:00 is 13:00 UTC
    assert due_week(datetime(2027, 3, 8, 12, 59, tzinfo=UTC), CHICAGO) == date(2027, 2, 22)
    assert due_week(datetime(2027, 3, 8, 13, 0, tzinfo=UTC), CHICAGO) == date(2027, 3, 1)
    # Sunday late evening local is still the week before's turn
    assert due_week(datetime(2027, 3, 15, 4, 0, tzinfo=UTC), CHICAGO) == date(2027, 3, 1)


def test_pay_rounds_half_up_to_the_cent() -> None:
    assert pay_cents(60, 2_500) == 2_500
    assert pay_cents(1, 2_500) == 42  # 41.67
    assert pay_cents(1, 30) == 1  # 0.5 -> 1
    assert pay_cents(1, 29) == 0  # 0.48 -> 0


async def _staffed(sessions: SessionFactory) -> tuple[int, int]:
    business = await make_business(sessions, name="Prairie Build", time_zone="America/Chicago")
    async with sessions() as session:
        employee, _ = await payroll.add_employee(
            session, business.id, {"name": "Jo", "hourly_rate_cents": 3_000}, key=None
        )
    return business.id, employee.id


async def _log(
    sessions: SessionFactory, business_id: int, employee_id: int, ref: str, day: date, minutes: int
) -> None:
    async with sessions() as session:
        employee = await payroll.employee_of(session, business_id, employee_id)
    assert employee is not None
    async with sessions() as session:
        await payroll.log_time(session, employee, {"reference": ref, "work_date": day, "minutes": minutes})


async def test_one_period_per_week_an_audited_recalculation_and_approval(sessions: SessionFactory) -> None:
    business_id, employee_id = await _staffed(sessions)
    week = date(2027, 3, 8)
    await _log(sessions, business_id, employee_id, "mon", week, 480)
    await _log(sessions, business_id, employee_id, "mon", week, 480)  # a repeat logs once
    await _log(sessions, business_id, employee_id, "sun", week + timedelta(days=6), 60)
    await _log(sessions, business_id, employee_id, "next-mon", week + timedelta(days=7), 600)  # next week
    now = datetime(2027, 3, 15, 12, 0, tzinfo=UTC)
    async with sessions() as session:
        period, created = await payroll.ensure_period(session, business_id, week, now)
    async with sessions() as session:
        again, created_again = await payroll.ensure_period(
            session, business_id, week, now
        )  # a second trigger
    assert created and not created_again and again.id == period.id
    assert period.total_cents == 27_000 and period.lines[0]["minutes"] == 540
    async with sessions() as session:  # a new rate does not change what was computed
        await payroll.set_rate(session, business_id, employee_id, 4_000)
    await _log(sessions, business_id, employee_id, "late", week + timedelta(days=2), 60)  # a late entry
    async with sessions() as session:
        unchanged, _ = await payroll.ensure_period(session, business_id, week, now)
    assert (unchanged.total_cents, unchanged.revision) == (27_000, 1)  # never silently recomputed
    async with sessions() as session:
        recalculated = await payroll.recalculate(
            session, business_id, period.id, "late entry for Wednesday", now
        )
    assert recalculated is not None and (recalculated.total_cents, recalculated.revision) == (40_000, 2)
    async with sessions() as session:
        audit = await payroll.recalculations(session, period.id)
    assert [(a.revision, a.total_before_cents, a.total_after_cents) for a in audit] == [(2, 27_000, 40_000)]
    async with sessions() as session:
        values = {"name": "Bo", "email": "bo@prairie.test", "roles": ["accounting"]}
        boss = (await staff.add_user(session, business_id, values)).user
    async with sessions() as session:
        approved = await payroll.approve(session, business_id, period.id, boss.id, now)
    assert approved is not None and approved.status.value == "approved"
    assert (approved.approved_by, approved.approved_at) == (boss.id, now)  # who reviewed it, and when
    with pytest.raises(payroll.PayrollConflict):
        async with sessions() as session:
            await payroll.recalculate(session, business_id, period.id, "again", now)


async def test_the_job_creates_each_companys_due_week_once_even_when_run_twice(
    skipping_env: WorkflowEnvironment, sessions: SessionFactory, settings: Settings
) -> None:
    business_id, employee_id = await _staffed(sessions)
    await _log(sessions, business_id, employee_id, "mon", date(2027, 3, 8), 120)
    at = datetime(2027, 3, 15, 12, 5, tzinfo=UTC)  # Monday 07:05 in Chicago

    async def run() -> JobMetrics:
        return await skipping_env.client.execute_workflow(
            WeeklyPayrollWorkflow.run,
            WeeklyPayrollInput(at=at),
            id=f"test-weekly-payroll-{uuid.uuid4()}",
            task_queue=MAINTENANCE,
        )

    async with running_worker(skipping_env.client, sessions, settings):
        first, second = await run(), await run()
    assert (first.changed, second.changed) == (1, 0)
    async with sessions() as session:
        periods = await payroll.periods(session, business_id)
    assert [(p.week_start, p.total_cents, p.status.value) for p in periods] == [
        (date(2027, 3, 8), 6_000, "pending")
    ]


def test_a_run_creates_every_week_missed_since_the_latest_period_up_to_a_quarter() -> None:
    due = date(2027, 3, 22)
    assert weeks_due(None, due) == [due]  # a new company starts with the due week
    assert weeks_due(due, due) == [due]  # on time: the due week again (it exists: nothing new)
    assert weeks_due(date(2027, 3, 1), due) == [date(2027, 3, 8), date(2027, 3, 15), due]
    long_ago = weeks_due(date(2020, 1, 6), due)
    assert len(long_ago) == CATCH_UP_WEEKS and long_ago[-1] == due
    assert all(b - a == timedelta(days=7) for a, b in itertools.pairwise(long_ago))


async def test_weeks_missed_during_an_outage_are_created_by_the_next_run(
    skipping_env: WorkflowEnvironment, sessions: SessionFactory, settings: Settings
) -> None:
    business_id, employee_id = await _staffed(sessions)
    async with sessions() as session:  # the last run before the outage
        await payroll.ensure_period(session, business_id, date(2027, 3, 1), datetime(2027, 3, 8, tzinfo=UTC))
    await _log(sessions, business_id, employee_id, "w1", date(2027, 3, 9), 60)
    await _log(sessions, business_id, employee_id, "w2", date(2027, 3, 16), 120)
    at = datetime(2027, 3, 29, 12, 5, tzinfo=UTC)  # two Mondays later, 07:05 in Chicago
    async with running_worker(skipping_env.client, sessions, settings):
        ran = await skipping_env.client.execute_workflow(
            WeeklyPayrollWorkflow.run,
            WeeklyPayrollInput(at=at),
            id=f"test-weekly-payroll-{uuid.uuid4()}",
            task_queue=MAINTENANCE,
        )
    assert ran.changed == 3
    async with sessions() as session:
        periods = await payroll.periods(session, business_id)
    assert [(p.week_start, p.total_cents) for p in periods] == [
        (date(2027, 3, 22), 0),
        (date(2027, 3, 15), 6_000),
        (date(2027, 3, 8), 3_000),
        (date(2027, 3, 1), 0),
    ]
