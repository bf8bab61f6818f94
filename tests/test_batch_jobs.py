"""Every batch job on real PostgreSQL rows on both sides of its threshold, run twice (the second run changes
nothing), through BatchJobWorkflow / PlatformStatsWorkflow and the real activities on the v2 server."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from temporalio import activity
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from db.engine import SessionFactory
from db.models import (
    Appointment,
    BusinessStats,
    Call,
    ChatRoom,
    Customer,
    InAppNotification,
    PlatformDailyStats,
    Policy,
    Project,
    Review,
    StaffUser,
)
from domain.job_types import BatchJobInput, JobBatchInput, JobBatchResult, JobMetrics, PlatformStatsInput
from domain.statuses import AppointmentStatus, CallStatus, ProjectStatus
from domain.task_queues import MAINTENANCE
from keeptime.settings import Settings
from tests.factories import make_business, make_customer
from tests.support import running_worker
from workflows.jobs import BatchJobWorkflow, PlatformStatsWorkflow

NOW = datetime.now(UTC)


async def _run(env: WorkflowEnvironment, job: BatchJobInput) -> JobMetrics:
    return await env.client.execute_workflow(
        BatchJobWorkflow.run, job, id=f"test-{job.job}-{uuid.uuid4()}", task_queue=MAINTENANCE
    )


async def _twice(
    env: WorkflowEnvironment, sessions: SessionFactory, settings: Settings, job: BatchJobInput
) -> tuple[JobMetrics, JobMetrics]:
    async with running_worker(env.client, sessions, settings):
        return await _run(env, job), await _run(env, job)


async def _appointment(
    sessions: SessionFactory,
    business_id: int,
    customer_id: int,
    status: AppointmentStatus,
    ended_days_ago: float,
) -> int:
    ends = NOW - timedelta(days=ended_days_ago)
    async with sessions() as session:
        row = Appointment(
            business_id=business_id,
            customer_id=customer_id,
            status=status,
            starts_at=ends - timedelta(hours=1),
            ends_at=ends,
        )
        session.add(row)
        await session.commit()
        return row.id


async def test_appointment_archive_takes_finished_ones_older_than_a_year_in_batches(
    skipping_env: WorkflowEnvironment, sessions: SessionFactory, provider_settings: Settings
) -> None:
    business = await make_business(sessions)
    customer = await make_customer(sessions, business)
    old = [
        await _appointment(sessions, business.id, customer.id, AppointmentStatus.COMPLETED, 366)
        for _ in range(3)
    ]
    old.append(await _appointment(sessions, business.id, customer.id, AppointmentStatus.CANCELLED, 400))
    kept = [
        await _appointment(sessions, business.id, customer.id, AppointmentStatus.COMPLETED, 364),
        await _appointment(sessions, business.id, customer.id, AppointmentStatus.CONFIRMED, 400),
        await _appointment(sessions, business.id, customer.id, AppointmentStatus.NO_SHOW, 400),
    ]
    job = BatchJobInput(job="appointment-archive", older_than_days=365, batch_size=2, batches_per_run=1)
    first, second = await _twice(skipping_env, sessions, provider_settings, job)  # continues as new per batch
    assert (first.changed, second.changed) == (4, 0)
    async with sessions() as session:
        archived = {
            r.id
            for r in (
                await session.execute(select(Appointment).where(Appointment.archived_at.is_not(None)))
            ).scalars()
        }
        assert (
            await session.scalar(
                select(Appointment.id).where(Appointment.id.in_(kept), Appointment.archived_at.is_not(None))
            )
            is None
        )
    assert archived == set(old)


async def test_chat_rooms_idle_for_six_months_are_archived_not_deleted(
    skipping_env: WorkflowEnvironment, sessions: SessionFactory, provider_settings: Settings
) -> None:
    business = await make_business(sessions)
    async with sessions() as session:
        rooms = [
            ChatRoom(business_id=business.id, last_activity_at=NOW - timedelta(days=d))
            for d in (184, 182, 400)
        ]
        session.add_all(rooms)
        await session.commit()
    first, second = await _twice(
        skipping_env, sessions, provider_settings, BatchJobInput(job="chat-room-archive", older_than_days=183)
    )
    assert (first.changed, second.changed) == (2, 0)
    async with sessions() as session:
        rows = {r.id: r.archived_at for r in (await session.execute(select(ChatRoom))).scalars()}
    assert len(rows) == 3
    assert [rows[r.id] is not None for r in rooms] == [True, False, True]


async def test_in_app_notifications_read_over_30_days_ago_are_archived_unread_ones_never(
    skipping_env: WorkflowEnvironment, sessions: SessionFactory, provider_settings: Settings
) -> None:
    business = await make_business(sessions)
    async with sessions() as session:
        user = StaffUser(business_id=business.id, name="Ana", email="ana@example.com", roles=["admin"])
        session.add(user)
        await session.flush()
        notes = [
            InAppNotification(
                business_id=business.id,
                user_id=user.id,
                message_key=f"k{n}",
                event="invoice.overdue",
                entity_type="invoice",
                entity_id=1,
                title="t",
                read_at=None if days is None else NOW - timedelta(days=days),
            )
            for n, days in enumerate((31, 29, None, 400))
        ]
        session.add_all(notes)
        await session.commit()
    job = BatchJobInput(job="in-app-notification-archive", older_than_days=30)
    first, second = await _twice(skipping_env, sessions, provider_settings, job)
    assert (first.changed, second.changed) == (2, 0)
    async with sessions() as session:
        rows = {n.id: n.archived_at for n in (await session.execute(select(InAppNotification))).scalars()}
    assert [rows[n.id] is not None for n in notes] == [True, False, False, True]


async def test_projects_completed_over_90_days_ago_are_archived_active_ones_never(
    skipping_env: WorkflowEnvironment, sessions: SessionFactory, provider_settings: Settings
) -> None:
    business = await make_business(sessions)
    async with sessions() as session:
        projects = [
            Project(
                business_id=business.id,
                name=f"P{n}",
                status=ProjectStatus.ACTIVE if days is None else ProjectStatus.COMPLETED,
                completed_at=None if days is None else NOW - timedelta(days=days),
            )
            for n, days in enumerate((91, 89, None, 500))
        ]
        session.add_all(projects)
        await session.commit()
    job = BatchJobInput(job="project-archive", older_than_days=90)
    first, second = await _twice(skipping_env, sessions, provider_settings, job)
    assert (first.changed, second.changed) == (2, 0)
    async with sessions() as session:
        rows = {p.id: p.status for p in (await session.execute(select(Project))).scalars()}
    assert [rows[p.id].value for p in projects] == ["archived", "completed", "active", "archived"]


async def test_call_records_older_than_30_days_are_deleted_unless_still_scheduled(
    skipping_env: WorkflowEnvironment, sessions: SessionFactory, provider_settings: Settings
) -> None:
    business = await make_business(sessions)
    customer = await make_customer(sessions, business)
    async with sessions() as session:
        policy = Policy(
            business_id=business.id,
            customer_id=customer.id,
            policy_number="C-1",
            duration_months=12,
            end_date=date.today(),
        )
        session.add(policy)
        await session.flush()
        calls = [
            Call(
                business_id=business.id,
                policy_id=policy.id,
                kind="automatic",
                status=status,
                created_at=NOW - timedelta(days=days),
            )
            for status, days in (
                (CallStatus.NO_ANSWER, 31),
                (CallStatus.COMPLETED, 29),
                (CallStatus.SCHEDULED, 31),
            )
        ]
        session.add_all(calls)
        await session.commit()
    first, second = await _twice(
        skipping_env,
        sessions,
        provider_settings,
        BatchJobInput(job="call-record-cleanup", older_than_days=30),
    )
    assert (first.changed, second.changed) == (1, 0)
    async with sessions() as session:
        left = set((await session.execute(select(Call.id))).scalars())
    assert left == {calls[1].id, calls[2].id}


async def test_reputation_recovers_five_points_capped_only_without_recent_no_shows(
    skipping_env: WorkflowEnvironment, sessions: SessionFactory, provider_settings: Settings
) -> None:
    business = await make_business(sessions)
    scores: dict[str, tuple[int, float | None]] = {
        "clean": (80, None),
        "near_cap": (98, None),
        "recent_no_show": (80, 30),
        "old_no_show": (80, 91),
        "perfect": (100, None),
    }
    ids: dict[str, int] = {}
    for name, (score, no_show_days) in scores.items():
        customer = await make_customer(sessions, business, name=name, reputation_score=score)
        ids[name] = customer.id
        if no_show_days is not None:
            await _appointment(sessions, business.id, customer.id, AppointmentStatus.NO_SHOW, no_show_days)
    first, second = await _twice(
        skipping_env,
        sessions,
        provider_settings,
        BatchJobInput(job="reputation-recovery", older_than_days=90),
    )
    assert (first.changed, second.changed) == (3, 0)  # the second run in the same week changes nothing
    async with sessions() as session:
        now = {
            c.name: c.reputation_score
            for c in (await session.execute(select(Customer).where(Customer.id.in_(ids.values())))).scalars()
        }
    assert now == {"clean": 85, "near_cap": 100, "recent_no_show": 80, "old_no_show": 85, "perfect": 100}


async def test_business_and_platform_statistics(
    skipping_env: WorkflowEnvironment, sessions: SessionFactory, provider_settings: Settings
) -> None:
    business = await make_business(sessions, rating_average=4.5, rating_count=2)
    customer = await make_customer(sessions, business)
    statuses = [AppointmentStatus.COMPLETED] * 2 + [
        AppointmentStatus.NO_SHOW,
        AppointmentStatus.CANCELLED,
        AppointmentStatus.CONFIRMED,
    ]
    ids = [await _appointment(sessions, business.id, customer.id, s, 0.5) for s in statuses]
    async with sessions() as session:
        session.add_all(
            [
                Review(business_id=business.id, customer_id=customer.id, appointment_id=ids[i], rating=r)
                for i, r in ((0, 4), (1, 5))
            ]
        )
        await session.commit()
    first, second = await _twice(
        skipping_env, sessions, provider_settings, BatchJobInput(job="business-stats")
    )
    assert (first.changed, second.changed) == (1, 0)  # unchanged figures are not rewritten
    async with sessions() as session:
        stats = await session.get(BusinessStats, business.id)
    assert stats is not None
    assert (stats.total_appointments, stats.completed, stats.no_shows, stats.cancelled) == (5, 2, 1, 1)
    assert (stats.completion_rate, stats.average_rating, stats.review_count) == (0.6667, 4.5, 2)

    # The platform's figures of a fixed past day: appointments starting that day, customers and reviews made.
    day = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
    async with sessions() as session:
        await session.execute(
            update(Appointment)
            .where(Appointment.id.in_(ids))
            .values(starts_at=day, ends_at=day + timedelta(hours=1))
        )
        await session.execute(update(Customer).where(Customer.id == customer.id).values(created_at=day))
        await session.execute(update(Review).values(created_at=day))
        await session.commit()
    async with running_worker(skipping_env.client, sessions, provider_settings):
        figures: Any = await skipping_env.client.execute_workflow(
            PlatformStatsWorkflow.run,
            PlatformStatsInput(day="2026-01-15"),
            id=f"test-platform-{uuid.uuid4()}",
            task_queue=MAINTENANCE,
        )
    assert figures.appointments_by_status == {"completed": 2, "no_show": 1, "cancelled": 1, "confirmed": 1}
    assert (figures.active_businesses, figures.new_customers, figures.reviews, figures.average_rating) == (
        1,
        1,
        2,
        4.5,
    )
    async with sessions() as session:
        stored = await session.get(PlatformDailyStats, day.date())
    assert stored is not None and (stored.new_customers, stored.reviews) == (1, 2)


async def test_a_poison_batch_ends_the_run_with_the_failure_reported_not_a_run_that_never_ends(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    """A batch that fails every attempt (same-name stand-in for the batch activity) is retried a bounded
    number of times; the run then completes with the failure in its result, so the schedule (overlap SKIP)
    is free to start the next run on time."""
    attempts: list[int] = []

    @activity.defn(name="run_job_batch")
    async def poison(batch: JobBatchInput) -> JobBatchResult:
        attempts.append(activity.info().attempt)
        raise RuntimeError(f"row after {batch.after} cannot be archived")

    async with Worker(
        time_skipping_env.client, task_queue=MAINTENANCE, workflows=[BatchJobWorkflow], activities=[poison]
    ):
        result: JobMetrics = await time_skipping_env.client.execute_workflow(
            BatchJobWorkflow.run,
            BatchJobInput(job="appointment-archive", older_than_days=365),
            id=f"job-poison-{uuid.uuid4()}",
            task_queue=MAINTENANCE,
        )
    assert attempts == [1, 2, 3, 4, 5]
    assert result.errors == 1 and result.failed_batch is not None
    assert "cannot be archived" in result.failed_batch
