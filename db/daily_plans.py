"""Projects and their daily plans: create (idempotent per project and day), submit, and the deadline's one
transaction (alert admins and PMs if the plan is still a draft)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from db import events, external_ids, staff
from db.idempotency import create_once, request_hash
from db.models import Business, DailyPlan, Project, ProjectMember, StaffUser, WeatherSnapshot
from db.weather import daily_weather
from domain.automation import AutomationSettings
from domain.daily_plan_types import DailyPlanSnapshot, DeadlineInput, DeadlineResult
from domain.events import DailyPlanPayload
from domain.statuses import DailyPlanStatus, ProjectStatus, StaffRole
from domain.timekeeping import local_wall_time

TOLD_OF_LATE_PLANS = (StaffRole.ADMIN, StaffRole.PM)


async def add_project(
    session: AsyncSession, business_id: int, values: dict[str, Any], *, key: str | None
) -> tuple[Project, bool]:
    """A new project, or the one this Idempotency-Key made (False). Commits."""

    async def create() -> Project:
        project = Project(
            business_id=business_id, status=ProjectStatus.ACTIVE, **external_ids.columns(values)
        )
        session.add(project)
        return project

    try:
        return await create_once(
            session,
            business_id,
            key,
            request_hash("POST /v1/projects", external_ids.hashed(values)),
            create,
            lambda project_id: session.get(Project, project_id),
            lambda project: project.id,
        )
    except IntegrityError as exc:
        external_ids.raise_if_taken(exc, Project, "project")
        raise


async def add_member(
    session: AsyncSession, business_id: int, project_id: int, staff_user_id: int
) -> Project | None:
    """Give a staff user access to a project (a repeat changes nothing); None if either is not the
    company's. Commits."""
    async with session.begin():
        project = await project_of(session, business_id, project_id)
        user = await session.get(StaffUser, staff_user_id)
        if project is None or user is None or user.business_id != business_id:
            return None
        await session.execute(
            insert(ProjectMember)
            .values(project_id=project_id, staff_user_id=staff_user_id, business_id=business_id)
            .on_conflict_do_nothing()
        )
    return project


async def remove_member(session: AsyncSession, business_id: int, project_id: int, staff_user_id: int) -> bool:
    """Take a staff user's access away (a repeat changes nothing); False if the project is not the
    company's. Commits."""
    async with session.begin():
        if await project_of(session, business_id, project_id) is None:
            return False
        await session.execute(
            delete(ProjectMember).where(
                ProjectMember.project_id == project_id, ProjectMember.staff_user_id == staff_user_id
            )
        )
    return True


async def members(session: AsyncSession, project_id: int) -> list[StaffUser]:
    rows = await session.scalars(
        select(StaffUser)
        .join(ProjectMember, ProjectMember.staff_user_id == StaffUser.id)
        .where(ProjectMember.project_id == project_id)
        .order_by(StaffUser.id)
    )
    return list(rows)


async def projects(session: AsyncSession, business_id: int) -> list[Project]:
    rows = await session.execute(
        select(Project).where(Project.business_id == business_id).order_by(Project.id)
    )
    return list(rows.scalars())


async def complete_project(
    session: AsyncSession, business_id: int, project_id: int, at: datetime
) -> Project | None:
    """An active project is completed (a repeat, or an archived one, is left as it is). Commits."""
    async with session.begin():
        project = await session.get(Project, project_id, with_for_update=True)
        if project is None or project.business_id != business_id:
            return None
        if project.status == ProjectStatus.ACTIVE:
            project.status, project.completed_at = ProjectStatus.COMPLETED, at
    return project


async def project_of(session: AsyncSession, business_id: int, project_id: int) -> Project | None:
    project = await session.get(Project, project_id)
    return project if project is not None and project.business_id == business_id else None


@dataclass(frozen=True)
class Created:
    plan: DailyPlan
    created: bool
    snapshot: DailyPlanSnapshot


async def create(session: AsyncSession, business_id: int, project_id: int, plan_date: date) -> Created:
    """The project's plan for the day (a repeat finds the one there is). Commits."""
    async with session.begin():
        # A plan made after the weather job fetched its day starts with that forecast.
        forecast = (
            select(WeatherSnapshot)
            .where(WeatherSnapshot.project_id == project_id, WeatherSnapshot.day == plan_date)
            .limit(1)
        )
        snapshot = await session.scalar(forecast)
        weather = None if snapshot is None else daily_weather(snapshot).stored()
        inserted = await session.execute(
            insert(DailyPlan)
            .values(business_id=business_id, project_id=project_id, plan_date=plan_date, weather=weather)
            .on_conflict_do_nothing(index_elements=["project_id", "plan_date"])
            .returning(DailyPlan.id)
        )
        new_id = inserted.scalar()
        plan = (
            await session.execute(
                select(DailyPlan).where(DailyPlan.project_id == project_id, DailyPlan.plan_date == plan_date)
            )
        ).scalar_one()
        return Created(plan, new_id is not None, await snapshot_of(session, plan))


async def plan_of(
    session: AsyncSession, business_id: int, plan_id: int, *, lock: bool = False
) -> DailyPlan | None:
    query = select(DailyPlan).where(DailyPlan.id == plan_id, DailyPlan.business_id == business_id)
    return (await session.execute(query.with_for_update() if lock else query)).scalar_one_or_none()


async def drafts_since(session: AsyncSession, day: date) -> list[DailyPlan]:
    """Draft plans of ``day`` or later (the reconciler's list: each should have its workflow)."""
    rows = await session.execute(
        select(DailyPlan).where(DailyPlan.status == DailyPlanStatus.DRAFT, DailyPlan.plan_date >= day)
    )
    return list(rows.scalars())


def deadline_of(plan_date: date, deadline: Any, zone: ZoneInfo) -> datetime:
    """``daily_plan_deadline`` on the plan's company-local day, as a UTC instant (DST-correct)."""
    return local_wall_time(datetime.combine(plan_date, deadline, tzinfo=zone), deadline, zone)


async def snapshot_of(session: AsyncSession, plan: DailyPlan) -> DailyPlanSnapshot:
    business = await session.get(Business, plan.business_id)
    assert business is not None  # foreign key
    settings = AutomationSettings.from_stored(business.automation).settings
    return DailyPlanSnapshot(
        plan_id=plan.id,
        business_id=plan.business_id,
        project_id=plan.project_id,
        plan_date=plan.plan_date,
        status=plan.status,
        deadline=deadline_of(plan.plan_date, settings.daily_plan_deadline, ZoneInfo(business.time_zone)),
    )


async def submit(session: AsyncSession, business_id: int, plan_id: int, at: datetime) -> DailyPlan | None:
    """Submit the plan (a repeat changes nothing). Commits; None: no such plan."""
    async with session.begin():
        plan = await plan_of(session, business_id, plan_id, lock=True)
        if plan is not None and plan.status == DailyPlanStatus.DRAFT:
            plan.status, plan.submitted_at = DailyPlanStatus.SUBMITTED, at
            _record(session, plan, "daily_plan.submitted", at, DailyPlanPayload(**_ids(plan)))
    return plan


async def act_on_deadline(session: AsyncSession, deadline: DeadlineInput) -> DeadlineResult | None:
    """At the deadline, under the row's lock: a plan still in draft alerts the company's admins and PMs,
    once each (UNIQUE keys); a submitted one alerts nobody. None: the plan is gone."""
    async with session.begin():
        plan = await plan_of(session, deadline.business_id, deadline.plan_id, lock=True)
        if plan is None:
            return None
        alerted = 0
        if plan.status == DailyPlanStatus.DRAFT:
            alerted = await _alert(session, plan, deadline.deadline)
            if plan.missed_at is None:  # a retried deadline told nobody again, and records nothing again
                plan.missed_at = datetime.now(UTC)
                missed = DailyPlanPayload(**_ids(plan), deadline=deadline.deadline, alerted=alerted)
                _record(session, plan, "daily_plan.missed", plan.missed_at, missed)
        return DeadlineResult(alerted=alerted, snapshot=await snapshot_of(session, plan))


def _ids(plan: DailyPlan) -> dict[str, Any]:
    return {
        "daily_plan_id": plan.id,
        "project_id": plan.project_id,
        "plan_date": plan.plan_date,
        "status": plan.status.value,
    }


def _record(
    session: AsyncSession, plan: DailyPlan, event_type: str, at: datetime, payload: DailyPlanPayload
) -> None:
    events.record(session, plan.business_id, event_type, ("daily_plan", plan.id), at, payload)


async def _alert(session: AsyncSession, plan: DailyPlan, deadline: datetime) -> int:
    project = await session.get(Project, plan.project_id)
    assert project is not None  # foreign key
    return await staff.tell(
        session,
        plan.business_id,
        TOLD_OF_LATE_PLANS,
        key=f"daily_plan:{plan.id}:daily_plan.incomplete:{deadline.isoformat()}",
        event="daily_plan.incomplete",
        entity=("daily_plan", plan.id),
        title=f"The daily plan of {project.name} for {plan.plan_date:%a %d %b} is still a draft",
        link=f"/v1/daily-plans/{plan.id}",
        project_id=project.id,
    )
