"""The weekly payroll job's activity: every company with employees gets the period of its latest due week
(Monday 07:00 company-local), created once (UNIQUE per company and week; a repeat or a catch-up finds it)."""

from __future__ import annotations

import time

from temporalio import activity

from db import payroll
from db.engine import SessionFactory
from domain.job_types import JobMetrics, WeeklyPayrollInput
from domain.payroll import due_week, weeks_due
from domain.timekeeping import zone_or_none


class PayrollActivities:
    def __init__(self, sessions: SessionFactory) -> None:
        self._sessions = sessions

    @activity.defn
    async def create_due_payrolls(self, run: WeeklyPayrollInput) -> JobMetrics:
        assert run.at is not None  # the workflow fixes it
        began = time.monotonic()
        metrics = JobMetrics(job="weekly-payroll")
        async with self._sessions() as session:
            companies = await payroll.businesses_with_employees(session)
        for business_id, zone_name in companies:
            zone = zone_or_none(zone_name)
            if zone is None:
                metrics = metrics.plus(
                    1, 0, 0.0, 1, [f"business {business_id}: unknown time zone {zone_name!r}"]
                )
                continue
            async with self._sessions() as session:
                weeks = weeks_due(await payroll.latest_week(session, business_id), due_week(run.at, zone))
            for week in weeks:  # oldest first: a week missed during an outage is created too
                async with self._sessions() as session:
                    period, created = await payroll.ensure_period(session, business_id, week, run.at)
                if activity.in_activity():
                    activity.heartbeat(business_id)
                details = (
                    [f"business {business_id}: period {period.id} for the week of {week}"] if created else []
                )
                metrics = metrics.plus(1, int(created), 0.0, details=details)
        return metrics.model_copy(update={"duration_s": round(time.monotonic() - began, 3)})
