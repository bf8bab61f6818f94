"""The weekly project digest: its Monday 08:00 company-local across DST (pure), and the job on the v2
time-skipping server with the real activities, PostgreSQL and SMTP peer: one e-mail per stakeholder about
their own active projects, nobody else, and a second run the same week sends nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from db import daily_plans, staff
from db.engine import SessionFactory
from db.models import DailyPlan, NotificationLog, Project, TouchUp
from domain.job_types import JobMetrics
from domain.project_digest import ProjectDigestRunInput, digest_week
from domain.statuses import DailyPlanStatus, ProjectStatus, TouchUpPriority
from domain.task_queues import MAINTENANCE
from keeptime.settings import Settings
from tests.factories import make_business
from tests.peers import ProviderPeer, SmtpPeer
from tests.support import running_worker
from tests.test_notification_delivery import parts
from workflows.jobs import ProjectDigestWorkflow

CHICAGO = ZoneInfo("America/Chicago")


def test_the_digest_is_monday_08_00_company_local_across_dst() -> None:
    # Chicago springs forward on Sunday 14 March 2027: Monday 08:00 is 13:00 UTC (CDT), a week before 14:00.
    week = digest_week(datetime(2027, 3, 15, 13, 0, tzinfo=UTC), CHICAGO)
    assert (week.at, week.monday) == (datetime(2027, 3, 15, 13, 0, tzinfo=UTC), date(2027, 3, 15))
    assert week.until == datetime(2027, 3, 22, 13, 0, tzinfo=UTC)
    assert week.last_week == (date(2027, 3, 8), date(2027, 3, 15))
    before = digest_week(datetime(2027, 3, 15, 12, 59, tzinfo=UTC), CHICAGO)  # 07:59 CDT: last week's
    assert (before.at, before.until) == (datetime(2027, 3, 8, 14, 0, tzinfo=UTC), week.at)
    sunday_night = digest_week(datetime(2027, 3, 22, 4, 0, tzinfo=UTC), CHICAGO)  # Sunday 23:00 local
    assert sunday_night.at == week.at


async def test_each_stakeholder_gets_one_digest_of_their_own_projects(
    skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
) -> None:
    smtp, _ = peers
    tag = uuid.uuid4().hex[:8]
    business = await make_business(sessions, name=f"Prairie {tag}", time_zone="America/Chicago")
    users = {}
    async with sessions() as session:
        for name, roles in (("ana", ["admin"]), ("pia", ["pm"]), ("omar", ["pm"]), ("carl", ["accounting"])):
            added = await staff.add_user(
                session,
                business.id,
                {"name": name.title(), "email": f"{name}-{tag}@build.test", "roles": roles},
            )
            users[name] = added.user.id
    async with sessions() as session, session.begin():
        harbour = Project(business_id=business.id, name="Harbour", ends_on=date(2027, 9, 30))
        depot = Project(business_id=business.id, name="Depot")
        done = Project(business_id=business.id, name="Finished Hall", status=ProjectStatus.COMPLETED)
        session.add_all([harbour, depot, done])
        await session.flush()
        session.add_all(
            [
                DailyPlan(
                    business_id=business.id,
                    project_id=harbour.id,
                    plan_date=date(2027, 3, 8) + timedelta(days=n),
                    status=DailyPlanStatus.SUBMITTED if n < 4 else DailyPlanStatus.DRAFT,
                )
                for n in range(5)
            ]
            + [
                TouchUp(
                    business_id=business.id,
                    project_id=harbour.id,
                    reference=f"t{n}",
                    title="fix",
                    priority=TouchUpPriority.URGENT if n else TouchUpPriority.LOW,
                )
                for n in range(3)
            ]
        )
    async with sessions() as session:
        await daily_plans.add_member(session, business.id, harbour.id, users["pia"])
    async with sessions() as session:
        await daily_plans.add_member(session, business.id, done.id, users["omar"])  # only a finished one
    at = datetime(2027, 3, 15, 13, 5, tzinfo=UTC)  # Monday 08:05 in Chicago

    async def run() -> JobMetrics:
        return await skipping_env.client.execute_workflow(
            ProjectDigestWorkflow.run,
            ProjectDigestRunInput(at=at),
            id=f"test-project-digest-{uuid.uuid4()}",
            task_queue=MAINTENANCE,
        )

    async with running_worker(skipping_env.client, sessions, provider_settings):
        await run()
        await run()  # the same week again: nothing more
    ours = {
        name: [m for m in smtp.messages if str(m["To"]) == f"{name}-{tag}@build.test"]
        for name in ("ana", "pia", "omar", "carl")
    }
    assert [len(ours[name]) for name in ("ana", "pia", "omar", "carl")] == [1, 1, 0, 0]
    ana, pia = parts(ours["ana"][0])["text/plain"], parts(ours["pia"][0])["text/plain"]
    assert str(ours["pia"][0]["Subject"]) == f"Prairie {tag}: your projects, week of Mar 8, 2027"
    assert "Harbour" in pia and "Depot" not in pia and "Finished Hall" not in pia
    assert "Daily plans submitted: 4 of 5" in pia and "Open touch-ups: 3 (high or urgent: 2)" in pia
    assert "Planned end: 2027-09-30" in pia
    assert "Harbour" in ana and "Depot" in ana and "Finished Hall" not in ana
    async with sessions() as session:
        keys = (
            await session.scalars(
                select(NotificationLog.idempotency_key).where(
                    NotificationLog.event == "staff.project_digest",
                    NotificationLog.business_id == business.id,
                )
            )
        ).all()
    assert sorted(keys) == sorted(
        f"staff_user:{users[name]}:staff.project_digest:staff:{users[name]}:{at.replace(minute=0).isoformat()}:-:email"
        for name in ("ana", "pia")
    )
