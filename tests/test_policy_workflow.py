"""PolicyWorkflow on the v2 time-skipping server with the real activities, PostgreSQL and voice-agent peer."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from db.engine import SessionFactory
from db.models import NotificationLog
from domain.policy_types import PolicyView
from domain.statuses import CallStatus, PolicyStatus
from keeptime.settings import Settings
from tests.peers import ProviderPeer, SmtpPeer
from tests.policy_support import (
    a_year_after,
    calls_of,
    local_days,
    make_insurer,
    make_policy,
    policy_row,
    summarise_calls,
)
from tests.support import running_worker
from tests.voice_agent_peer import VoiceAgentPeer
from workflows.starts import start_policy_workflow

KOLKATA = ZoneInfo("Asia/Kolkata")


def _today() -> date:
    return datetime.now(UTC).astimezone(KOLKATA).date()


async def _expiry_messages(sessions: SessionFactory, policy_id: int) -> list[tuple[str, str]]:
    async with sessions() as session:
        rows = await session.execute(
            select(NotificationLog).where(
                NotificationLog.entity_type == "policy", NotificationLog.entity_id == policy_id
            )
        )
        return [(r.event, r.status.value) for r in rows.scalars()]


async def test_renewal_continues_into_the_next_term_which_expires_after_unanswered_calls(
    skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
    voice_agent: VoiceAgentPeer,
) -> None:
    env = skipping_env
    insurer = await make_insurer(sessions)
    today = _today()
    end = today + timedelta(days=40)
    async with running_worker(env.client, sessions, provider_settings):
        policy, handle = await make_policy(sessions, env.client, insurer, end)
        voice_agent.scripts[policy.id] = ["answered"]  # then the default: nobody picks up
        summarise_calls(voice_agent, sessions, env.client, insurer.business.id, agreed=True)
        final: PolicyView = await asyncio.wait_for(handle.result(), 120)
    assert final.phase == "expired" and final.term == 2
    row = await policy_row(sessions, policy.id)
    renewed_end = a_year_after(end)
    assert (row.status, row.term, row.end_date) == (PolicyStatus.EXPIRED, 2, renewed_end)
    calls = await calls_of(sessions, policy.id)
    first_term = (end - timedelta(days=30)).isoformat()
    second_term = [(renewed_end - timedelta(days=d)).isoformat() for d in (30, 23, 16)]
    assert local_days(calls) == [first_term, *second_term]
    assert [c.status for c in calls] == [CallStatus.COMPLETED] + [CallStatus.NO_ANSWER] * 3
    assert calls[0].renewal_agreed is True
    assert all(c.started_at and c.started_at.astimezone(KOLKATA).strftime("%H:%M") == "10:00" for c in calls)
    assert len(voice_agent.calls) == 4
    assert await _expiry_messages(sessions, policy.id) == [("policy.expired", "sent")]


async def _lifecycle(
    env: WorkflowEnvironment,
    sessions: SessionFactory,
    settings: Settings,
    voice_agent: VoiceAgentPeer,
    script: list[str],
    *,
    agreed: bool = False,
    **config: Any,
) -> tuple[int, PolicyView]:
    """One policy ending in 40 days, run to its end with the agent replying ``script`` (then no answer)."""
    insurer = await make_insurer(sessions, **config)
    summarise_calls(voice_agent, sessions, env.client, insurer.business.id, agreed=agreed)
    async with running_worker(env.client, sessions, settings):
        policy, handle = await make_policy(
            sessions, env.client, insurer, _today() + timedelta(days=40), start=False
        )
        voice_agent.scripts[policy.id] = list(script)
        await start_policy_workflow(env.client, policy)
        final: PolicyView = await asyncio.wait_for(handle.result(), 120)
    return policy.id, final


async def test_a_decline_ends_calling_for_the_term_and_the_policy_expires(
    skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    provider_settings: Settings,
    voice_agent: VoiceAgentPeer,
) -> None:
    policy_id, final = await _lifecycle(skipping_env, sessions, provider_settings, voice_agent, ["declined"])
    assert final.phase == "expired"
    assert [c.status for c in await calls_of(sessions, policy_id)] == [CallStatus.DECLINED]
    assert (await policy_row(sessions, policy_id)).declined_at is not None
    assert await _expiry_messages(sessions, policy_id) == [("policy.expired", "sent")]


async def test_a_summary_without_renewal_counts_as_a_decline(
    skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    provider_settings: Settings,
    voice_agent: VoiceAgentPeer,
) -> None:
    policy_id, final = await _lifecycle(
        skipping_env, sessions, provider_settings, voice_agent, ["answered"], agreed=False
    )
    calls = await calls_of(sessions, policy_id)
    assert final.phase == "expired" and final.term == 1
    assert [(c.status, c.renewal_agreed) for c in calls] == [(CallStatus.COMPLETED, False)]
    assert (await policy_row(sessions, policy_id)).declined_at is not None


async def test_transport_failures_are_retried_three_times_then_the_call_counts_as_failed(
    skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    provider_settings: Settings,
    voice_agent: VoiceAgentPeer,
) -> None:
    policy_id, final = await _lifecycle(
        skipping_env,
        sessions,
        provider_settings,
        voice_agent,
        ["fail", "fail", "fail", "fail", "no_answer"],
        max_retries_per_customer=2,
    )
    calls = await calls_of(sessions, policy_id)
    # first call: three attempts, all 503 -> failed; second call (a week later): one 503, then no answer
    assert [c.status for c in calls] == [CallStatus.FAILED, CallStatus.NO_ANSWER]
    assert voice_agent.requests == 5
    assert (calls[1].local_day - calls[0].local_day).days == 7  # type: ignore[operator]
    assert final.phase == "expired"


async def test_an_unanswered_call_without_a_summary_counts_as_an_attempt(
    skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    provider_settings: Settings,
    voice_agent: VoiceAgentPeer,
) -> None:
    insurer = await make_insurer(sessions, max_retries_per_customer=1, summary_timeout_minutes=20)
    async with running_worker(skipping_env.client, sessions, provider_settings):
        policy, handle = await make_policy(
            sessions, skipping_env.client, insurer, _today() + timedelta(days=40), start=False
        )
        voice_agent.scripts[policy.id] = ["answered"]  # and no summary ever comes back
        await start_policy_workflow(skipping_env.client, policy)
        final: PolicyView = await asyncio.wait_for(handle.result(), 120)
    calls = await calls_of(sessions, policy.id)
    assert [(c.status, c.error) for c in calls] == [
        (CallStatus.COMPLETED, "no summary from the voice agent in time")
    ]
    assert (await policy_row(sessions, policy.id)).call_attempts == 1
    assert final.phase == "expired"
