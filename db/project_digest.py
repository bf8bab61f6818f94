"""The weekly project digest's rows: who is due one (not yet logged for this week) and their projects."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import (
    Business,
    DailyPlan,
    NotificationLog,
    Project,
    ProjectMember,
    StaffUser,
    TouchUp,
    WeatherSnapshot,
)
from domain.notification_types import NotificationRequest
from domain.project_digest import DigestWeek, ProjectLine, digest_week
from domain.statuses import DailyPlanStatus, ProjectStatus, StaffRole, TouchUpPriority, TouchUpStatus
from domain.timekeeping import zone_or_none

EVENT = "staff.project_digest"


def digest_request(business_id: int, user_id: int, week: DigestWeek) -> NotificationRequest:
    """The week's digest for one user: its key (user, event, Monday instant, channel) makes it once."""
    return NotificationRequest(
        business_id=business_id,
        entity_type="staff_user",
        entity_id=user_id,
        event=EVENT,
        scheduled_for=week.at,
        deadline=week.until,
    )


def _stakeholder(business_id: int) -> ColumnElement[bool]:
    """Users of the company who are admins or members of one of its active projects."""
    member_of_active = (
        select(ProjectMember.staff_user_id)
        .join(Project, Project.id == ProjectMember.project_id)
        .where(ProjectMember.staff_user_id == StaffUser.id, Project.status == ProjectStatus.ACTIVE)
        .exists()
    )
    return and_(
        StaffUser.business_id == business_id,
        or_(StaffUser.roles.contains([StaffRole.ADMIN.value]), member_of_active),
    )


async def due_digests(session: AsyncSession, at: datetime, limit: int) -> list[NotificationRequest]:
    """Up to ``limit`` digests due at ``at`` and not yet logged (sent, skipped or failing)."""
    companies = await session.execute(
        select(Business.id, Business.time_zone)
        .where(
            select(Project.id)
            .where(Project.business_id == Business.id, Project.status == ProjectStatus.ACTIVE)
            .exists()
        )
        .order_by(Business.id)
    )
    due: list[NotificationRequest] = []
    for business_id, zone_name in companies.all():
        zone = zone_or_none(zone_name)
        if zone is None:
            continue  # a zone this machine does not know: no Monday to send at (the weather job names it)
        week = digest_week(at, zone)
        users = await session.scalars(
            select(StaffUser.id).where(_stakeholder(business_id)).order_by(StaffUser.id)
        )
        requests = [digest_request(business_id, user_id, week) for user_id in users]
        if not requests:
            continue
        logged = set(
            await session.scalars(
                select(NotificationLog.message_key).where(
                    NotificationLog.message_key.in_([r.message_key() for r in requests])
                )
            )
        )
        due.extend(r for r in requests if r.message_key() not in logged)
        if len(due) >= limit:
            return due[:limit]
    return due


async def project_lines(
    session: AsyncSession, user: StaffUser, week: DigestWeek, today: date
) -> list[ProjectLine]:
    """The user's active projects (an admin's: all of the company's), each with its week in figures."""
    scope = Project.business_id == user.business_id
    if StaffRole.ADMIN.value not in user.roles:
        scope = and_(
            scope,
            select(ProjectMember.project_id)
            .where(ProjectMember.project_id == Project.id, ProjectMember.staff_user_id == user.id)
            .exists(),
        )
    start, end = week.last_week
    open_touch_ups = (
        select(func.count(TouchUp.id))
        .where(TouchUp.project_id == Project.id, TouchUp.status == TouchUpStatus.OPEN)
        .scalar_subquery()
    )
    serious = (
        select(func.count(TouchUp.id))
        .where(
            TouchUp.project_id == Project.id,
            TouchUp.status == TouchUpStatus.OPEN,
            TouchUp.priority.in_([TouchUpPriority.HIGH, TouchUpPriority.URGENT]),
        )
        .scalar_subquery()
    )
    last_week = and_(
        DailyPlan.project_id == Project.id, DailyPlan.plan_date >= start, DailyPlan.plan_date < end
    )
    plans = select(func.count(DailyPlan.id)).where(last_week).scalar_subquery()
    submitted = (
        select(func.count(DailyPlan.id))
        .where(last_week, DailyPlan.status == DailyPlanStatus.SUBMITTED)
        .scalar_subquery()
    )
    rows = await session.execute(
        select(Project, open_touch_ups, serious, plans, submitted, WeatherSnapshot)
        .select_from(Project)
        .outerjoin(
            WeatherSnapshot, and_(WeatherSnapshot.project_id == Project.id, WeatherSnapshot.day == today)
        )
        .where(scope, Project.status == ProjectStatus.ACTIVE)
        .order_by(Project.name, Project.id)
        .limit(50)
    )
    return [
        ProjectLine(
            project_id=project.id,
            name=project.name,
            ends_on=project.ends_on,
            open_touch_ups=touch_ups,
            serious_touch_ups=serious_count,
            plans_last_week=total,
            plans_submitted=sent,
            weather_today=_weather_text(snapshot),
        )
        for project, touch_ups, serious_count, total, sent, snapshot in rows.all()
    ]


def _weather_text(snapshot: WeatherSnapshot | None) -> str | None:
    if snapshot is None:
        return None
    parts = [snapshot.conditions] if snapshot.conditions else []
    if snapshot.temperature_min_c is not None and snapshot.temperature_max_c is not None:
        parts.append(f"{snapshot.temperature_min_c:.0f} to {snapshot.temperature_max_c:.0f} °C")
    return ", ".join(parts) or None
