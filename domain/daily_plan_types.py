"""Types that cross the Temporal boundary for daily plans (ids, dates and instants)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from domain.statuses import DailyPlanStatus


class DailyPlanRef(BaseModel):
    plan_id: int
    business_id: int


class DailyPlanSnapshot(BaseModel):
    """The plan as its workflow sees it; ``deadline`` is planned by the activity in the company's zone."""

    plan_id: int
    business_id: int
    project_id: int
    plan_date: date
    status: DailyPlanStatus
    deadline: datetime


class DailyPlanInput(BaseModel):
    plan_id: int
    business_id: int
    snapshot: DailyPlanSnapshot | None = None


class DeadlineInput(BaseModel):
    plan_id: int
    business_id: int
    deadline: datetime


class DeadlineResult(BaseModel):
    alerted: int = Field(description="in-app notifications created (0: submitted in time, or a repeat)")
    snapshot: DailyPlanSnapshot


class DailyPlanView(BaseModel):
    plan_id: int
    status: str = Field(description="draft, submitted, or 'gone' when the row was deleted")
    deadline: datetime | None
    outcome: str | None = Field(default=None, description="e.g. 'alerted 2', 'submitted in time'")
