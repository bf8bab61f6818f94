"""Steering sleeping policy workflows (v2 server, real clock until a test fast-forwards a workflow):
config changes, pause, trigger-now, manual calls against the skip window, cancellation."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from db import policies
from db.engine import SessionFactory
from db.models import Call, EventRecord
from domain.call_config import CallSchedulerConfig
from domain.policy_plan import first_call_at
from domain.policy_types import PolicyView
from domain.statuses import CallStatus, PolicyStatus
from keeptime.settings import Settings
from services.policies import record_call_summary, trigger_calls_now
from services.settings import change_call_config
from tests.appointment_support import eventually
from tests.peers import ProviderPeer, SmtpPeer
from tests.policy_support import Insurer, calls_of, make_insurer, make_policy, policy_row
from tests.support import running_worker
from tests.voice_agent_peer import VoiceAgentPeer
from workflows.policy import PolicyWorkflow
from workflows.starts import start_policy_workflow

ZONE = "Asia/Kolkata"


def _today() -> Any:
    return datetime.now(UTC).astimezone(ZoneInfo(ZONE)).date()


async def _view(handle: WorkflowHandle[Any, Any]) -> PolicyView:
    view: PolicyView = await handle.query(PolicyWorkflow.state)
    return view


async def _phase_is(handle: WorkflowHandle[Any, Any], phase: str, at: datetime | None = None) -> None:
    async def check() -> bool:
        view = await _view(handle)
        if at is not None:
            return view.phase == phase and view.next_call_at == at
        # A new workflow starts in call_scheduled before its first plan is stored: wait for the plan too,
        # or a trigger that reads next_call_at from PostgreSQL can run before it is written.
        planned = phase != "call_scheduled" or view.next_call_at is not None
        return view.phase == phase and planned

    await eventually(check, what=f"phase {phase} {at or ''}")


async def test_a_config_change_moves_a_sleeping_policy_and_pausing_holds_every_call(
    skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    provider_settings: Settings,
    voice_agent: VoiceAgentPeer,
) -> None:
    env = skipping_env
    insurer = await make_insurer(sessions)
    end = _today() + timedelta(days=60)
    zone = ZoneInfo(ZONE)
    async with running_worker(env.client, sessions, provider_settings):
        with env.with_time_skipping_disabled():
            policy, handle = await make_policy(sessions, env.client, insurer, end)
        await _phase_is(handle, "call_scheduled", first_call_at(end, CallSchedulerConfig(), zone))
        earlier = CallSchedulerConfig(days_before_expiry=45)
        await change_call_config(sessions, env.client, insurer.business.id, earlier)
        await _phase_is(handle, "call_scheduled", first_call_at(end, earlier, zone))
        await change_call_config(
            sessions, env.client, insurer.business.id, earlier.model_copy(update={"enabled": False})
        )
        await _phase_is(handle, "paused")
        await change_call_config(sessions, env.client, insurer.business.id, earlier)
        await _phase_is(handle, "call_scheduled", first_call_at(end, earlier, zone))
        assert voice_agent.calls == []
        await env.fast_forward(handle, timedelta(days=16))
        await eventually(lambda: _has_calls(sessions, policy.id, 1), what="the first call")
    calls = await calls_of(sessions, policy.id)
    assert calls[0].local_day == end - timedelta(days=45)
    assert calls[0].started_at is not None
    assert calls[0].started_at.astimezone(zone).strftime("%H:%M") == "10:00"


async def _has_calls(sessions: SessionFactory, policy_id: int, count: int) -> bool:
    calls = await calls_of(sessions, policy_id)
    return len([c for c in calls if c.status not in (CallStatus.SCHEDULED, CallStatus.DIALING)]) >= count


async def test_trigger_now_calls_at_once_and_a_second_trigger_respects_the_skip_window(
    skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    provider_settings: Settings,
    voice_agent: VoiceAgentPeer,
) -> None:
    env = skipping_env
    insurer = await _all_day_insurer(sessions)
    async with running_worker(env.client, sessions, provider_settings):
        with env.with_time_skipping_disabled():
            soon, soon_handle = await make_policy(
                sessions, env.client, insurer, _today() + timedelta(days=40)
            )
            later, later_handle = await make_policy(
                sessions, env.client, insurer, _today() + timedelta(days=90)
            )
        await _phase_is(soon_handle, "call_scheduled")
        await _phase_is(later_handle, "call_scheduled")
        within_two_weeks = datetime.now(UTC) + timedelta(days=14)
        assert await trigger_calls_now(sessions, env.client, insurer.business.id, within_two_weeks) == [
            soon.id
        ]
        await eventually(lambda: _has_calls(sessions, soon.id, 1), what="the triggered call")
        await _phase_is(soon_handle, "call_scheduled")  # the next try, a week later
        assert await trigger_calls_now(
            sessions, env.client, insurer.business.id, datetime.now(UTC) + timedelta(days=30)
        ) == [soon.id]
        await asyncio.sleep(1.5)
    assert [c.local_day for c in await calls_of(sessions, soon.id)] == [_today()]
    assert await calls_of(sessions, later.id) == []
    assert len(voice_agent.calls) == 1


async def _all_day_insurer(sessions: SessionFactory, **config: Any) -> Insurer:
    """Calls allowed all day, so a trigger works whenever the test runs (the window is tested elsewhere)."""
    return await make_insurer(sessions, call_time=time(0, 0), last_call_time=time(23, 59, 59), **config)


async def test_manual_calls_respect_the_skip_window_and_the_automatic_call_comes_after(
    skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    provider_settings: Settings,
    voice_agent: VoiceAgentPeer,
) -> None:
    env = skipping_env
    zone = ZoneInfo(ZONE)
    insurer = await make_insurer(sessions, max_retries_per_customer=2)
    today = _today()
    policy, handle = await make_policy(sessions, env.client, insurer, today + timedelta(days=40), start=False)

    def noon(days: int) -> datetime:
        return datetime.combine(today + timedelta(days=days), time(12, 0), tzinfo=zone)

    async with sessions() as session:
        config = CallSchedulerConfig(max_retries_per_customer=2)
        await policies.schedule_manual_call(session, insurer.business.id, policy.id, noon(1), config, zone)
        try:
            await policies.schedule_manual_call(
                session, insurer.business.id, policy.id, noon(3), config, zone
            )
            raise AssertionError("a second call within the skip window was accepted")
        except policies.CallNotAllowed as refused:
            assert "within skip_if_called_within_days=7" in str(refused)
        # An operator race the API cannot see coming: a second manual call already booked 3 days later.
        session.add(
            Call(
                business_id=policy.business_id,
                policy_id=policy.id,
                kind="manual",
                status=CallStatus.SCHEDULED,
                scheduled_for=noon(3),
            )
        )
        await session.commit()
    async with running_worker(env.client, sessions, provider_settings):
        await start_policy_workflow(env.client, policy)
        await asyncio.wait_for(handle.result(), 120)
    calls = await calls_of(sessions, policy.id)
    assert [(c.kind, c.status) for c in calls] == [
        ("manual", CallStatus.NO_ANSWER),
        ("manual", CallStatus.SKIPPED),
        ("automatic", CallStatus.NO_ANSWER),
    ]
    assert calls[0].started_at is not None
    assert timedelta(0) <= calls[0].started_at - noon(1) < timedelta(minutes=1)
    assert calls[2].local_day == today + timedelta(days=10)  # end - 30 days, more than a week after
    assert len(voice_agent.calls) == 2
    async with sessions() as session:
        rows = await session.scalars(
            select(EventRecord)
            .where(EventRecord.entity_type == "call", EventRecord.entity_id.in_([c.id for c in calls]))
            .order_by(EventRecord.id)
        )
        told = [(row.entity_id, row.type) for row in rows]
    assert told == [  # the operator's call is scheduled, then placed; the racing one is skipped
        (calls[0].id, "call.scheduled"),
        (calls[0].id, "call.no_answer"),
        (calls[1].id, "call.skipped"),
        (calls[2].id, "call.no_answer"),
    ]


async def test_the_cancel_signal_ends_a_sleeping_policy_without_calls(
    skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    provider_settings: Settings,
    voice_agent: VoiceAgentPeer,
) -> None:
    env = skipping_env
    insurer = await make_insurer(sessions)
    async with running_worker(env.client, sessions, provider_settings):
        with env.with_time_skipping_disabled():
            policy, handle = await make_policy(sessions, env.client, insurer, _today() + timedelta(days=40))
        await _phase_is(handle, "call_scheduled")
        await handle.signal(PolicyWorkflow.cancel)  # what `temporal workflow signal --name cancel` sends
        final: PolicyView = await asyncio.wait_for(handle.result(), 30)
    assert final.phase == "cancelled"
    assert (await policy_row(sessions, policy.id)).status == PolicyStatus.CANCELLED
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED
    assert voice_agent.calls == []


async def test_a_signal_that_arrives_during_the_renewal_call_survives_continue_as_new(
    skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
    voice_agent: VoiceAgentPeer,
) -> None:
    """``stop_calls`` (the CLI's signal, no API write) lands while the call that renews is in progress: the
    next term must start with it applied, not with three more calls."""
    insurer = await make_insurer(sessions)
    end = datetime.now(UTC).astimezone(ZoneInfo("Asia/Kolkata")).date() + timedelta(days=40)
    async with running_worker(skipping_env.client, sessions, provider_settings):
        policy, handle = await make_policy(sessions, skipping_env.client, insurer, end)
        voice_agent.scripts[policy.id] = ["answered"]

        async def stop_then_agree(body: dict[str, Any]) -> None:
            await handle.signal(PolicyWorkflow.stop_calls)
            await record_call_summary(
                sessions, skipping_env.client, insurer.business.id, int(body["call_id"]), True, "renews"
            )

        voice_agent.on_answered = stop_then_agree
        final: PolicyView = await asyncio.wait_for(handle.result(), 120)
    assert (final.phase, final.term) == ("expired", 2)
    row = await policy_row(sessions, policy.id)
    assert row.calls_stopped and row.term == 2
    assert len(await calls_of(sessions, policy.id)) == 1  # the renewal call; none in the stopped term
