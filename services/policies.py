"""Starting and steering policy workflows: the row first, then its workflow; signals after every change."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from temporalio.client import Client
from temporalio.service import RPCError

from db import policies
from db.engine import SessionFactory
from db.models import Call, Policy
from domain.ids import policy_workflow_id
from domain.policy_types import CallSummarySignal
from domain.statuses import CallStatus
from workflows.policy import PolicyWorkflow
from workflows.starts import start_policy_workflow

SIGNAL_CONCURRENCY = 32


async def register_policy(
    sessions: SessionFactory, client: Client, business_id: int, values: dict[str, Any]
) -> Policy:
    async with sessions() as session:
        policy = await policies.create_policy(session, business_id, values)
    await start_policy_workflow(client, policy)
    return policy


async def refresh(client: Client, policy_ids: Iterable[int]) -> int:
    """Signal ``refresh`` to each policy's workflow (ended ones are skipped); returns how many it reached."""
    return await _signal_all(client, policy_ids, PolicyWorkflow.refresh)


async def record_call_summary(
    sessions: SessionFactory,
    client: Client,
    business_id: int,
    call_id: int,
    renewal_agreed: bool,
    summary: str | None,
) -> Call | None:
    """Store the agent's summary, then tell the policy's workflow (which renews or records the decline).

    The row is written first: if the signal is lost, the workflow finds the summary when its wait ends."""
    async with sessions() as session:
        call = await policies.store_call_summary(session, business_id, call_id, renewal_agreed, summary)
    if call is not None:
        answer = CallSummarySignal(call_id=call.id, renewal_agreed=renewal_agreed)
        await _signal(client, call.policy_id, PolicyWorkflow.call_summary, answer)
    return call


async def schedule_manual_call(
    sessions: SessionFactory, client: Client, business_id: int, policy_id: int, at: datetime
) -> Call | None:
    """Store an operator's call for ``at`` (CallNotAllowed within the skip window), then wake the workflow.

    None: no such policy."""
    async with sessions() as session:
        settings = await policies.call_settings(session, business_id)
    if settings is None:
        return None
    zone, config = settings
    async with sessions() as session:
        call = await policies.schedule_manual_call(session, business_id, policy_id, at, config, zone)
    if call is not None:
        await refresh(client, [call.policy_id])
    return call


async def cancel_manual_call(
    sessions: SessionFactory, client: Client, business_id: int, call_id: int
) -> Call | None:
    """Cancel a scheduled manual call and wake its workflow; the call as it now is (None: no such call)."""
    async with sessions() as session:
        call = await policies.cancel_scheduled_call(session, business_id, call_id)
    if call is not None and call.status == CallStatus.CANCELLED:
        await refresh(client, [call.policy_id])
    return call


async def _signal(client: Client, policy_id: int, signal: Any, *args: Any) -> bool:
    """Signal one policy's workflow; False if it has ended (expired, cancelled): the row already says so."""
    try:
        await client.get_workflow_handle(policy_workflow_id(policy_id)).signal(signal, *args)
    except RPCError:
        return False
    return True


async def _signal_all(client: Client, policy_ids: Iterable[int], signal: Any) -> int:
    gate = asyncio.Semaphore(SIGNAL_CONCURRENCY)

    async def one(policy_id: int) -> bool:
        async with gate:
            return await _signal(client, policy_id, signal)

    return sum(await asyncio.gather(*(one(i) for i in policy_ids)))


async def trigger_calls_now(
    sessions: SessionFactory, client: Client, business_id: int, before: datetime
) -> list[int]:
    """Call now every active policy whose next call is planned before ``before`` (caps still apply)."""
    async with sessions() as session:
        ids = await policies.request_calls_now(session, business_id, before)
    await refresh(client, ids)
    return ids


async def update_policy(
    sessions: SessionFactory, client: Client, business_id: int, policy_id: int, values: dict[str, Any]
) -> Policy | None:
    async with sessions() as session:
        policy = await policies.update_policy(session, business_id, policy_id, values)
    if policy is not None:
        await refresh(client, [policy.id])
    return policy


async def cancel_policy(
    sessions: SessionFactory, client: Client, business_id: int, policy_id: int
) -> Policy | None:
    """Cancel the row (and its scheduled calls), then end its workflow with the ``cancel`` signal."""
    return await _act(sessions, client, business_id, policy_id, "cancel", PolicyWorkflow.cancel)


async def stop_policy_calls(
    sessions: SessionFactory, client: Client, business_id: int, policy_id: int
) -> Policy | None:
    return await _act(sessions, client, business_id, policy_id, "stop_calls", PolicyWorkflow.refresh)


async def _act(
    sessions: SessionFactory, client: Client, business_id: int, policy_id: int, action: str, signal: Any
) -> Policy | None:
    async with sessions() as session:
        policy = await policies.act_on_policy(session, business_id, policy_id, action)
    if policy is not None:
        await _signal(client, policy.id, signal)
    return policy
