"""The call caps across workflows: 200 policies released into the same day on the v2 server.

Calling is paused while every policy workflow plans, then enabled: each workflow wakes and claims a call slot.
At most ``max_calls_per_day`` calls happen on a local day and at most ``max_concurrent_calls`` at once; the
ones over the daily cap move to the next day, and each day's calls are the soonest-expiring policies left.
"""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select
from temporalio.testing import WorkflowEnvironment

from db import policies
from db.engine import SessionFactory
from db.models import Call, EventRecord, Policy
from domain.call_config import CallSchedulerConfig
from domain.ids import policy_workflow_id
from domain.statuses import CallStatus
from keeptime.settings import Settings
from services.settings import change_call_config
from tests.appointment_support import eventually
from tests.factories import make_business, make_customer
from tests.policy_support import midday_zone
from tests.support import running_worker
from tests.voice_agent_peer import VoiceAgentPeer
from workflows.policy import PolicyWorkflow
from workflows.starts import start_policy_workflow

POLICIES = 200
PER_DAY = 50
AT_ONCE = 5


async def _calls_by_day(sessions: SessionFactory) -> dict[date, list[int]]:
    async with sessions() as session:
        rows = await session.execute(
            select(Call.local_day, Call.policy_id).where(Call.status == CallStatus.DECLINED).order_by(Call.id)
        )
    days: dict[date, list[int]] = {}
    for day, policy_id in rows.all():
        assert day is not None
        days.setdefault(day, []).append(policy_id)
    return days


async def _count_planned(sessions: SessionFactory, business_id: int, at: datetime | None = None) -> int:
    async with sessions() as session:
        condition = Policy.next_call_at.is_not(None) if at is None else Policy.next_call_at == at
        count = await session.scalar(
            select(func.count()).select_from(Policy).where(Policy.business_id == business_id, condition)
        )
        return int(count or 0)


async def test_hundreds_of_policies_due_the_same_day_respect_both_caps_soonest_expiry_first(
    skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    provider_settings: Settings,
    voice_agent: VoiceAgentPeer,
) -> None:
    env = skipping_env
    zone = midday_zone()
    today = datetime.now(UTC).astimezone(zone).date()
    config = CallSchedulerConfig(
        call_time=time(0, 0),
        last_call_time=time(23, 59, 59),
        max_calls_per_day=PER_DAY,
        max_concurrent_calls=AT_ONCE,
        busy_retry_seconds=1,
    )
    business = await make_business(sessions, name="Shield Insurance", time_zone=zone.key)
    customer = await make_customer(sessions, business)
    rng = random.Random(7)
    async with sessions() as session:
        await policies.save_call_config(session, business.id, config.model_copy(update={"enabled": False}))
        rows = [
            Policy(
                business_id=business.id,
                customer_id=customer.id,
                policy_number=f"CAP-{n:04d}",
                duration_months=12,
                end_date=today + timedelta(days=rng.randint(5, 25)),  # all inside the 30-day call window
            )
            for n in range(POLICIES)
        ]
        session.add_all(rows)
        await session.commit()
    by_priority = [p.id for p in sorted(rows, key=lambda p: (p.end_date, p.id))]
    voice_agent.default, voice_agent.delay_s = "declined", 0.2
    async with running_worker(env.client, sessions, provider_settings):
        with env.with_time_skipping_disabled():
            for chunk in range(0, POLICIES, 50):
                await asyncio.gather(
                    *(start_policy_workflow(env.client, p) for p in rows[chunk : chunk + 50])
                )
        await eventually(
            lambda: _planned_all(sessions, business.id), timeout_s=120, what="every workflow planned (paused)"
        )
        await change_call_config(sessions, env.client, business.id, config)  # release them all at once
        tomorrow = datetime.combine(today + timedelta(days=1), time(0, 0), tzinfo=zone)
        await eventually(
            lambda: _settled(sessions, business.id, PER_DAY, tomorrow, POLICIES - PER_DAY),
            timeout_s=180,
            what="the first day's calls",
        )
        first_day_max = voice_agent.max_in_flight
        later = by_priority[PER_DAY:]
        await asyncio.gather(
            *(
                env.fast_forward(
                    env.client.get_workflow_handle_for(PolicyWorkflow.run, policy_workflow_id(policy_id)),
                    tomorrow - datetime.now(UTC) + timedelta(minutes=5),
                )
                for policy_id in later
            )
        )
        day_after = tomorrow + timedelta(days=1)
        await eventually(
            lambda: _settled(sessions, business.id, 2 * PER_DAY, day_after, POLICIES - 2 * PER_DAY),
            timeout_s=180,
            what="the second day's calls",
        )
    days = await _calls_by_day(sessions)
    assert sorted(days) == [today, today + timedelta(days=1)]
    assert sorted(days[today]) == sorted(by_priority[:PER_DAY])
    assert sorted(days[today + timedelta(days=1)]) == sorted(by_priority[PER_DAY : 2 * PER_DAY])
    assert len(voice_agent.calls) == 2 * PER_DAY
    assert 2 <= first_day_max <= AT_ONCE and voice_agent.max_in_flight <= AT_ONCE
    # call.capped once per move to a later day: none for the first day's, one for the second day's, two
    # for the rest (a policy woken again before its new day and capped to the same day again records none)
    moves = await _capped(sessions, business.id)
    assert [moves.get(p, []) for p in by_priority] == (
        [[]] * PER_DAY + [[tomorrow]] * PER_DAY + [[tomorrow, day_after]] * (POLICIES - 2 * PER_DAY)
    )


async def _capped(sessions: SessionFactory, business_id: int) -> dict[int, list[datetime]]:
    async with sessions() as session:
        rows = await session.scalars(
            select(EventRecord)
            .where(EventRecord.business_id == business_id, EventRecord.type == "call.capped")
            .order_by(EventRecord.id)
        )
        moves: dict[int, list[datetime]] = {}
        for row in rows:
            assert row.entity_type == "policy" and row.payload["call_id"] is None
            retry_at = datetime.fromisoformat(row.payload["retry_at"])
            moves.setdefault(row.payload["policy_id"], []).append(retry_at)
    return moves


async def _planned_all(sessions: SessionFactory, business_id: int) -> bool:
    return await _count_planned(sessions, business_id) == POLICIES


async def _settled(
    sessions: SessionFactory, business_id: int, calls: int, next_day: datetime, waiting: int
) -> bool:
    """``calls`` calls declined and every other policy planned for the next day's call time."""
    placed = sum(len(ids) for ids in (await _calls_by_day(sessions)).values())
    return placed == calls and await _count_planned(sessions, business_id, next_day) == waiting
