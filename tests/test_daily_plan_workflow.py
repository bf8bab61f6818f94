"""DailyPlanWorkflow on the v2 time-skipping server with the real activities and PostgreSQL: a draft at its
deadline alerts admins and PMs once; a plan submitted before it sends nothing."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from db import daily_plans as store
from db.engine import SessionFactory
from db.models import InAppNotification
from domain.daily_plan_types import DeadlineInput
from domain.ids import daily_plan_workflow_id
from keeptime.settings import Settings
from services.daily_plans import create_daily_plan, submit
from tests.appointment_support import eventually
from tests.invoice_support import company
from tests.support import running_worker
from workflows.daily_plan import DailyPlanWorkflow

BERLIN = ZoneInfo("Europe/Berlin")


def test_the_deadline_is_company_local_across_dst() -> None:
    assert store.deadline_of(date(2027, 3, 27), time(17, 0), BERLIN) == datetime(
        2027, 3, 27, 16, 0, tzinfo=UTC
    )
    assert store.deadline_of(date(2027, 3, 28), time(17, 0), BERLIN) == datetime(
        2027, 3, 28, 15, 0, tzinfo=UTC
    )


async def _project(sessions: SessionFactory, business_id: int) -> int:
    async with sessions() as session:
        project, _ = await store.add_project(session, business_id, {"name": "Harbour Bridge"}, key=None)
    return project.id


async def _told(sessions: SessionFactory, plan_id: int) -> list[int]:
    async with sessions() as session:
        rows = await session.execute(
            select(InAppNotification.user_id).where(
                InAppNotification.entity_type == "daily_plan", InAppNotification.entity_id == plan_id
            )
        )
        return sorted(rows.scalars())


async def test_a_draft_at_its_deadline_alerts_admins_and_pms_once(
    skipping_env: WorkflowEnvironment, sessions: SessionFactory, settings: Settings
) -> None:
    business_id, users = await company(sessions)
    project_id = await _project(sessions, business_id)
    async with sessions() as session:
        await store.add_member(session, business_id, project_id, users["pia"])
    day = datetime.now(UTC).astimezone(BERLIN).date() + timedelta(days=2)
    async with running_worker(skipping_env.client, sessions, settings):
        plan, created = await create_daily_plan(sessions, skipping_env.client, business_id, project_id, day)
        again, created_again = await create_daily_plan(
            sessions, skipping_env.client, business_id, project_id, day
        )
        assert created and not created_again and again.id == plan.id
        handle = skipping_env.client.get_workflow_handle_for(
            DailyPlanWorkflow.run, daily_plan_workflow_id(plan.id)
        )
        final = await asyncio.wait_for(handle.result(), 60)
    assert (final.status, final.outcome) == ("draft", "alerted 2")
    assert final.deadline == datetime.combine(day, time(17, 0), tzinfo=BERLIN).astimezone(UTC)
    assert await _told(sessions, plan.id) == sorted([users["ana"], users["pia"]])  # not accounting
    async with sessions() as session:  # a retried deadline activity tells nobody twice
        repeat = await store.act_on_deadline(
            session, DeadlineInput(plan_id=plan.id, business_id=business_id, deadline=final.deadline)
        )
    assert repeat is not None and repeat.alerted == 0


async def test_a_plan_submitted_before_its_deadline_sends_nothing(
    skipping_env: WorkflowEnvironment, sessions: SessionFactory, settings: Settings
) -> None:
    business_id, _ = await company(sessions)
    project_id = await _project(sessions, business_id)
    day = datetime.now(UTC).astimezone(BERLIN).date() + timedelta(days=2)
    async with running_worker(skipping_env.client, sessions, settings):
        with skipping_env.with_time_skipping_disabled():
            plan, _ = await create_daily_plan(sessions, skipping_env.client, business_id, project_id, day)
            handle = skipping_env.client.get_workflow_handle_for(
                DailyPlanWorkflow.run, daily_plan_workflow_id(plan.id)
            )

            async def asleep() -> bool:
                return (await handle.query(DailyPlanWorkflow.state)).deadline is not None

            await eventually(asleep, what="asleep until the deadline")
            await submit(sessions, skipping_env.client, business_id, plan.id)
            await submit(sessions, skipping_env.client, business_id, plan.id)  # a repeat
            final = await asyncio.wait_for(handle.result(), 30)
    assert (final.status, final.outcome) == ("submitted", "submitted in time")
    assert await _told(sessions, plan.id) == []
    async with sessions() as session:  # the deadline's transaction on a submitted plan (a lost signal)
        late = await store.act_on_deadline(
            session, DeadlineInput(plan_id=plan.id, business_id=business_id, deadline=datetime.now(UTC))
        )
    assert late is not None and late.alerted == 0
