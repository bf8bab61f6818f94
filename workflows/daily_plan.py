"""DailyPlanWorkflow (``daily-plan-<id>``): sleeps until the plan's deadline (``daily_plan_deadline``, default
17:00 in the company's zone, on the plan's day) and, if the plan is still a draft then, alerts the company's
admins and PMs once. A plan submitted before the deadline ends the workflow (signal ``submitted``) and
nothing is sent; if that signal is lost, the deadline's transaction finds the row submitted and sends
nothing either. A settings change (signal ``settings_changed``, from the settings rollout) reads the
deadline again."""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.daily_plans import DailyPlanActivities
    from domain import search_attributes as attrs
    from domain.daily_plan_types import (
        DailyPlanInput,
        DailyPlanRef,
        DailyPlanSnapshot,
        DailyPlanView,
        DeadlineInput,
    )
    from domain.rollout_types import SettingsChanged
    from domain.statuses import DailyPlanStatus
    from domain.task_queues import MAINTENANCE
    from workflows.db_calls import call_db


@workflow.defn
class DailyPlanWorkflow:
    @workflow.init
    def __init__(self, start: DailyPlanInput) -> None:
        self._ref = DailyPlanRef(plan_id=start.plan_id, business_id=start.business_id)
        self._snapshot: DailyPlanSnapshot | None = start.snapshot
        self._submitted = False
        self._outcome: str | None = None
        self._settings_wanted = 0  # the newest settings revision signalled
        self._settings_read = 0

    @workflow.run
    async def run(self, start: DailyPlanInput) -> DailyPlanView:
        try:
            if self._snapshot is None:
                self._snapshot = await call_db(
                    DailyPlanActivities.load_daily_plan, self._ref, "load daily plan", queue=MAINTENANCE
                )
            while self._snapshot.status == DailyPlanStatus.DRAFT:
                delay = self._snapshot.deadline - workflow.now()
                self._settings_read = self._settings_wanted
                try:
                    await workflow.wait_condition(
                        lambda: self._submitted or self._settings_wanted > self._settings_read,
                        timeout=max(delay.total_seconds(), 0.001),
                        timeout_summary="deadline",
                    )
                except TimeoutError:
                    await self._deadline()
                    break
                if self._submitted:
                    break
                # The settings changed: read the deadline as it is now.
                self._snapshot = await call_db(
                    DailyPlanActivities.load_daily_plan, self._ref, "read the new deadline", queue=MAINTENANCE
                )
            if self._outcome is None:
                self._outcome = "submitted in time"
        except ActivityError as error:
            cause = error.cause
            if not (isinstance(cause, ApplicationError) and cause.type == "DailyPlanMissing"):
                raise
            self._outcome = "the plan was deleted"
        workflow.upsert_search_attributes([attrs.STATUS.value_set(self.state().status)])
        return self.state()

    async def _deadline(self) -> None:
        assert self._snapshot is not None
        arg = DeadlineInput(**self._ref.model_dump(), deadline=self._snapshot.deadline)
        result = await call_db(DailyPlanActivities.act_on_plan_deadline, arg, "deadline", queue=MAINTENANCE)
        self._snapshot = result.snapshot
        if self._snapshot.status == DailyPlanStatus.DRAFT:
            self._outcome = f"alerted {result.alerted}"

    @workflow.signal
    def submitted(self) -> None:
        """The plan was submitted (the row says so already); a repeat changes nothing."""
        self._submitted = True

    @workflow.signal
    def settings_changed(self, change: SettingsChanged) -> None:
        """The company's settings changed (``daily_plan_deadline``): read the deadline again."""
        self._settings_wanted = max(self._settings_wanted, change.revision)

    @workflow.query
    def state(self) -> DailyPlanView:
        snapshot = self._snapshot
        status = snapshot.status.value if snapshot else "gone"
        if self._submitted:
            status = DailyPlanStatus.SUBMITTED.value
        if self._outcome == "the plan was deleted":
            status = "gone"
        return DailyPlanView(
            plan_id=self._ref.plan_id,
            status=status,
            deadline=snapshot.deadline if snapshot else None,
            outcome=self._outcome,
        )
