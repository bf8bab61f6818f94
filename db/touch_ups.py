"""Touch-ups of construction projects: create (idempotent by reference), change priority or status, and the
project's alert, checked in the same transaction under the project's lock: 3 or more open high/urgent
touch-ups are told to the company's admins and PMs once per crossing (``touch_ups_alerted_at``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from db import staff
from db.conflicts import FieldConflict
from db.models import Project, TouchUp
from db.repeats import body_digest, same_request
from domain.statuses import ProjectStatus, StaffRole, TouchUpPriority, TouchUpStatus

ALERT_AT = 3  # open touch-ups of these priorities that make a project worth telling
SERIOUS = (TouchUpPriority.HIGH, TouchUpPriority.URGENT)
TOLD_OF_TOUCH_UPS = (StaffRole.ADMIN, StaffRole.PM)


class TouchUpConflict(FieldConflict):
    """Raised by this module's changes (``field`` names the input at fault)."""


@dataclass(frozen=True)
class Saved:
    touch_up: TouchUp
    created: bool


async def _locked_project(session: AsyncSession, business_id: int, project_id: int) -> Project | None:
    project = await session.get(Project, project_id, with_for_update=True)
    return project if project is not None and project.business_id == business_id else None


async def create(
    session: AsyncSession, business_id: int, project_id: int, values: dict[str, Any], now: datetime
) -> Saved | None:
    """Add a touch-up (a repeat of its reference returns the first; another body is a conflict), then check
    the project's alert. Commits; None: no such project."""
    async with session.begin():
        project = await _locked_project(session, business_id, project_id)
        if project is None:
            return None
        inserted = await session.execute(
            insert(TouchUp)
            .values(
                business_id=business_id, project_id=project_id, created_from=body_digest(values), **values
            )
            .on_conflict_do_nothing(index_elements=["project_id", "reference"])
            .returning(TouchUp.id)
        )
        new_id = inserted.scalar()
        touch_up = (
            await session.execute(
                select(TouchUp).where(
                    TouchUp.project_id == project_id, TouchUp.reference == values["reference"]
                )
            )
        ).scalar_one()
        if new_id is None and not same_request(
            touch_up.created_from, values, unchanged=touch_up.title == values["title"]
        ):
            raise TouchUpConflict("reference", "another touch-up has this reference")
        await check_project(session, project, now)
    return Saved(touch_up, new_id is not None)


async def update(
    session: AsyncSession, business_id: int, touch_up_id: int, changes: dict[str, Any], now: datetime
) -> TouchUp | None:
    """Change priority and/or status (the same values again change nothing), then check the project's
    alert. Commits; None: no such touch-up."""
    async with session.begin():
        touch_up = await session.get(TouchUp, touch_up_id)
        if touch_up is None or touch_up.business_id != business_id:
            return None
        project = await _locked_project(session, business_id, touch_up.project_id)
        assert project is not None  # foreign key
        for name, value in changes.items():
            setattr(touch_up, name, value)
        await session.flush()
        await check_project(session, project, now)
    return touch_up


async def of_project(session: AsyncSession, business_id: int, project_id: int) -> list[TouchUp]:
    rows = await session.execute(
        select(TouchUp)
        .where(TouchUp.business_id == business_id, TouchUp.project_id == project_id)
        .order_by(TouchUp.status, TouchUp.id)
    )
    return list(rows.scalars())


async def check_project(session: AsyncSession, project: Project, now: datetime) -> int:
    """Under the project's lock: tell a new crossing to 3+ open high/urgent touch-ups once, or re-arm the
    alert when fewer are open. Returns the notifications created."""
    serious = await session.scalar(
        select(func.count()).where(
            TouchUp.project_id == project.id,
            TouchUp.status == TouchUpStatus.OPEN,
            TouchUp.priority.in_(SERIOUS),
        )
    )
    if (serious or 0) < ALERT_AT:
        project.touch_ups_alerted_at = None
        return 0
    if project.touch_ups_alerted_at is not None:
        return 0  # this crossing was told already
    if project.status != ProjectStatus.ACTIVE:
        return 0  # completed or archived: nobody is sent back; re-opened, its next change tells
    project.touch_ups_alerted_at = now
    return await staff.tell(
        session,
        project.business_id,
        TOLD_OF_TOUCH_UPS,
        key=f"project:{project.id}:touch_ups.high_priority:{now.isoformat()}",
        event="touch_ups.high_priority",
        entity=("project", project.id),
        title=f"{project.name}: {serious} open high-priority touch-ups",
        link=f"/v1/projects/{project.id}/touch-ups",
        project_id=project.id,
    )
