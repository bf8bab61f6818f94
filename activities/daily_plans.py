"""Daily-plan activities: read the plan, and its deadline's one transaction."""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError

from db import daily_plans
from db.engine import SessionFactory
from domain.daily_plan_types import DailyPlanRef, DailyPlanSnapshot, DeadlineInput, DeadlineResult


def _missing() -> ApplicationError:
    return ApplicationError("the daily plan is gone", type="DailyPlanMissing", non_retryable=True)


class DailyPlanActivities:
    def __init__(self, sessions: SessionFactory) -> None:
        self._sessions = sessions

    @activity.defn
    async def load_daily_plan(self, ref: DailyPlanRef) -> DailyPlanSnapshot:
        async with self._sessions() as session:
            plan = await daily_plans.plan_of(session, ref.business_id, ref.plan_id)
            if plan is None:
                raise _missing()
            return await daily_plans.snapshot_of(session, plan)

    @activity.defn
    async def act_on_plan_deadline(self, deadline: DeadlineInput) -> DeadlineResult:
        async with self._sessions() as session:
            result = await daily_plans.act_on_deadline(session, deadline)
        if result is None:
            raise _missing()
        return result
