"""Touch-up alerts on real PostgreSQL: a project reaching 3 open high/urgent touch-ups is told to admins
and PMs once per crossing (at the change that crosses), re-armed when fewer are open; the daily safety net."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from db import daily_plans, staff, touch_ups
from db.engine import SessionFactory
from db.models import InAppNotification, Project, ProjectMember, StaffUser, TouchUp
from domain.job_types import BatchJobInput
from domain.statuses import ProjectStatus, TouchUpPriority, TouchUpStatus
from keeptime.settings import Settings
from tests.invoice_support import company
from tests.test_batch_jobs import _twice

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


async def _told(sessions: SessionFactory, project_id: int) -> list[int]:
    async with sessions() as session:
        rows = await session.execute(
            select(InAppNotification.user_id)
            .where(InAppNotification.entity_type == "project", InAppNotification.entity_id == project_id)
            .order_by(InAppNotification.id)
        )
        return list(rows.scalars())


async def _add(
    sessions: SessionFactory, business_id: int, project_id: int, ref: str, priority: str, at: datetime = NOW
) -> int:
    async with sessions() as session:
        saved = await touch_ups.create(
            session,
            business_id,
            project_id,
            {"reference": ref, "title": f"fix {ref}", "priority": TouchUpPriority(priority)},
            at,
        )
    assert saved is not None
    return saved.touch_up.id


async def test_three_serious_open_touch_ups_are_told_once_per_crossing(sessions: SessionFactory) -> None:
    business_id, users = await company(sessions)
    async with sessions() as session:
        project, _ = await daily_plans.add_project(session, business_id, {"name": "Harbour"}, key=None)
    async with sessions() as session:
        await daily_plans.add_member(session, business_id, project.id, users["pia"])
    async with sessions() as session:  # a PM of other projects only: not told of this one
        await staff.add_user(
            session, business_id, {"name": "Omar PM", "email": "omar@bau.test", "roles": ["pm"]}
        )
    await _add(sessions, business_id, project.id, "a", "high")
    await _add(sessions, business_id, project.id, "b", "low")  # not serious
    second = await _add(sessions, business_id, project.id, "c", "urgent")
    assert await _told(sessions, project.id) == []  # two serious: below the line
    await _add(sessions, business_id, project.id, "d", "high")  # the third: told
    told = await _told(sessions, project.id)
    assert sorted(told) == sorted([users["ana"], users["pia"]])
    await _add(sessions, business_id, project.id, "d", "high")  # a repeated request: nothing new
    await _add(sessions, business_id, project.id, "e", "urgent")  # a fourth: the same crossing
    assert await _told(sessions, project.id) == told
    async with sessions() as session:  # one is done: below the line, re-armed
        await touch_ups.update(session, business_id, second, {"status": TouchUpStatus.DONE}, NOW)
    async with sessions() as session:
        await touch_ups.update(session, business_id, second, {"status": TouchUpStatus.DONE}, NOW)  # a repeat
    async with sessions() as session:
        still = await session.get(Project, project.id)
    assert still is not None and still.touch_ups_alerted_at is not None  # d, e, a: still three open
    async with sessions() as session:
        first = (await session.execute(select(TouchUp).where(TouchUp.reference == "a"))).scalar_one()
    async with sessions() as session:
        await touch_ups.update(session, business_id, first.id, {"priority": TouchUpPriority.LOW}, NOW)
    async with sessions() as session:
        rearmed = await session.get(Project, project.id)
    assert rearmed is not None and rearmed.touch_ups_alerted_at is None
    later = NOW.replace(hour=15)  # each crossing is told at its own instant (the notifications' keys)
    await _add(sessions, business_id, project.id, "f", "high", later)  # a new crossing: told again
    assert len(await _told(sessions, project.id)) == 4


async def test_the_daily_safety_net_tells_a_project_never_told_once(
    skipping_env: WorkflowEnvironment, sessions: SessionFactory, provider_settings: Settings
) -> None:
    business_id, users = await company(sessions)
    async with sessions() as session:  # rows written outside the API: nobody was told
        told_before = Project(business_id=business_id, name="Told", touch_ups_alerted_at=NOW)
        never_told = Project(business_id=business_id, name="Never told")
        two_only = Project(business_id=business_id, name="Two")
        done = Project(business_id=business_id, name="Done", status=ProjectStatus.COMPLETED)
        archived = Project(business_id=business_id, name="Archived", status=ProjectStatus.ARCHIVED)
        session.add_all([told_before, never_told, two_only, done, archived])
        await session.flush()
        for project, count in ((told_before, 3), (never_told, 3), (two_only, 2), (done, 3), (archived, 3)):
            session.add_all(
                TouchUp(
                    business_id=business_id,
                    project_id=project.id,
                    reference=f"r{n}",
                    title="t",
                    priority=TouchUpPriority.URGENT,
                )
                for n in range(count)
            )
        session.add(
            ProjectMember(project_id=never_told.id, staff_user_id=users["pia"], business_id=business_id)
        )
        omar = StaffUser(business_id=business_id, name="Omar PM", email="omar@bau.test", roles=["pm"])
        session.add(omar)  # a PM of other projects: not told of this one
        await session.commit()
    first, second = await _twice(
        skipping_env, sessions, provider_settings, BatchJobInput(job="touch-up-check")
    )
    assert (first.changed, second.changed) == (1, 0)
    assert sorted(await _told(sessions, never_told.id)) == sorted([users["ana"], users["pia"]])
    assert omar.id not in await _told(sessions, never_told.id)
    assert await _told(sessions, told_before.id) == [] and await _told(sessions, two_only.id) == []
    assert await _told(sessions, done.id) == [] and await _told(sessions, archived.id) == []


async def test_a_completed_or_archived_project_crossing_the_line_tells_nobody(
    sessions: SessionFactory,
) -> None:
    business_id, _ = await company(sessions)
    for status in (ProjectStatus.COMPLETED, ProjectStatus.ARCHIVED):
        async with sessions() as session:
            project, _ = await daily_plans.add_project(session, business_id, {"name": status}, key=None)
            row = await session.get(Project, project.id)
            assert row is not None
            row.status = status
            await session.commit()
        for ref in "abc":
            await _add(sessions, business_id, project.id, ref, "urgent")
        assert await _told(sessions, project.id) == [], status
