"""A company's users (staff with roles) and their in-app notifications: create, list, mark read, archive."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.conflicts import FieldConflict
from db.models import InAppNotification, ProjectMember, StaffUser
from db.repeats import body_digest, same_request
from domain.statuses import StaffRole


class StaffConflict(FieldConflict):
    """Raised by this module's changes (``field`` names the input at fault)."""


@dataclass(frozen=True)
class AddedUser:
    user: StaffUser
    created: bool


async def add_user(session: AsyncSession, business_id: int, values: dict[str, Any]) -> AddedUser:
    """Insert the user, or return the one with this e-mail if it is the same (a retried request). Commits."""
    async with session.begin():
        inserted = await session.execute(
            insert(StaffUser)
            .values(business_id=business_id, created_from=body_digest(values), **values)
            .on_conflict_do_nothing(index_elements=["business_id", "email"])
            .returning(StaffUser.id)
        )
        new_id = inserted.scalar()
        user = (
            await session.execute(
                select(StaffUser).where(
                    StaffUser.business_id == business_id, StaffUser.email == values["email"]
                )
            )
        ).scalar_one()
        unchanged = (user.name, sorted(user.roles)) == (values["name"], sorted(values["roles"]))
        if new_id is None and not same_request(user.created_from, values, unchanged=unchanged):
            raise StaffConflict("email", "another user has this e-mail")
        return AddedUser(user, new_id is not None)


async def users(session: AsyncSession, business_id: int) -> list[StaffUser]:
    rows = await session.execute(
        select(StaffUser).where(StaffUser.business_id == business_id).order_by(StaffUser.id)
    )
    return list(rows.scalars())


async def user_of(session: AsyncSession, business_id: int, user_id: int) -> StaffUser | None:
    user = await session.get(StaffUser, user_id)
    return user if user is not None and user.business_id == business_id else None


async def inbox(
    session: AsyncSession, user_id: int, *, unread_only: bool, before_id: int | None, limit: int
) -> tuple[list[InAppNotification], int]:
    """The user's notifications, newest first (archived ones are not shown), and how many are unread."""
    query = select(InAppNotification).where(
        InAppNotification.user_id == user_id, InAppNotification.archived_at.is_(None)
    )
    if unread_only:
        query = query.where(InAppNotification.read_at.is_(None))
    if before_id is not None:
        query = query.where(InAppNotification.id < before_id)
    rows = await session.execute(query.order_by(InAppNotification.id.desc()).limit(limit))
    unread = await session.execute(
        select(func.count()).where(
            InAppNotification.user_id == user_id,
            InAppNotification.archived_at.is_(None),
            InAppNotification.read_at.is_(None),
        )
    )
    return list(rows.scalars()), int(unread.scalar_one())


async def mark_read(session: AsyncSession, user_id: int, ids: list[int] | None, at: datetime) -> int:
    """Mark these (or, with ``ids`` None, all) of the user's unread notifications read; returns how many
    changed (a repeat changes none). Commits."""
    statement = (
        update(InAppNotification)
        .where(InAppNotification.user_id == user_id, InAppNotification.read_at.is_(None))
        .values(read_at=at)
    )
    if ids is not None:
        statement = statement.where(InAppNotification.id.in_(ids))
    async with session.begin():
        result = await session.execute(statement)
    return int(result.rowcount)  # type: ignore[attr-defined]


async def tell(
    session: AsyncSession,
    business_id: int,
    roles: tuple[StaffRole, ...],
    *,
    key: str,
    event: str,
    entity: tuple[str, int],
    title: str,
    link: str,
    project_id: int | None = None,
) -> int:
    """Create one in-app notification for each user of the company with one of ``roles``, inside the
    caller's transaction. About a project (``project_id``), admins hear of every project, the other roles
    only of the projects they are members of. ``key`` names the moment (entity, event, instant); with the
    user it is UNIQUE, so a repeat creates nothing. Returns how many were created."""
    company_wide = [role.value for role in roles if role == StaffRole.ADMIN or project_id is None]
    scoped = [role.value for role in roles if role.value not in company_wide]
    member = (
        select(ProjectMember.staff_user_id)
        .where(ProjectMember.project_id == project_id, ProjectMember.staff_user_id == StaffUser.id)
        .exists()
    )
    users = await session.execute(
        select(StaffUser.id).where(
            StaffUser.business_id == business_id,
            or_(StaffUser.roles.overlap(company_wide), and_(StaffUser.roles.overlap(scoped), member)),
        )
    )
    entity_type, entity_id = entity
    rows = [
        {
            "business_id": business_id,
            "user_id": user_id,
            "message_key": f"{key}:user:{user_id}",
            "event": event,
            "entity_type": entity_type,
            "entity_id": entity_id,
            "title": title[:300],
            "link": link,
        }
        for user_id in users.scalars()
    ]
    if not rows:
        return 0
    created = await session.execute(
        insert(InAppNotification)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["message_key"])
        .returning(InAppNotification.id)
    )
    return len(created.scalars().all())
