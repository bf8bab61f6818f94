"""Daily plans: the row first, then its workflow; a submission is made in PostgreSQL and then signalled."""

from __future__ import annotations

import contextlib
from datetime import UTC, date, datetime

from temporalio.client import Client
from temporalio.service import RPCError

from db import daily_plans as store
from db.engine import SessionFactory
from db.models import DailyPlan
from domain.ids import daily_plan_workflow_id
from workflows.daily_plan import DailyPlanWorkflow
from workflows.starts import start_daily_plan_workflow


async def create_daily_plan(
    sessions: SessionFactory, client: Client, business_id: int, project_id: int, plan_date: date
) -> tuple[DailyPlan, bool]:
    async with sessions() as session:
        created = await store.create(session, business_id, project_id, plan_date)
    await start_daily_plan_workflow(client, created.snapshot)
    return created.plan, created.created


async def submit(
    sessions: SessionFactory, client: Client, business_id: int, plan_id: int
) -> DailyPlan | None:
    async with sessions() as session:
        plan = await store.submit(session, business_id, plan_id, datetime.now(UTC))
    if plan is not None:
        with contextlib.suppress(RPCError):  # ended already: nothing to tell it
            await client.get_workflow_handle_for(
                DailyPlanWorkflow.run, daily_plan_workflow_id(plan.id)
            ).signal(DailyPlanWorkflow.submitted)
    return plan
