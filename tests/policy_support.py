"""Helpers for policy tests: a business with a call config, policies started like the API does, call rows."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from temporalio.client import Client, WorkflowHandle

from db import policies
from db.engine import SessionFactory
from db.models import Business, Call, Policy
from domain.call_config import CallSchedulerConfig
from domain.ids import policy_workflow_id
from services.policies import record_call_summary
from tests.factories import make_business, make_customer
from tests.voice_agent_peer import VoiceAgentPeer
from workflows.policy import PolicyWorkflow
from workflows.starts import start_policy_workflow

_numbers = itertools.count(1)


@dataclass
class Insurer:
    business: Business
    customer_id: int


async def make_insurer(
    sessions: SessionFactory, *, time_zone: str = "Asia/Kolkata", **config: Any
) -> Insurer:
    business = await make_business(sessions, name="Shield Insurance", time_zone=time_zone)
    customer = await make_customer(sessions, business, channel_order=["sms", "email"])
    async with sessions() as session:
        await policies.save_call_config(session, business.id, CallSchedulerConfig(**config))
    return Insurer(business, customer.id)


async def make_policy(
    sessions: SessionFactory,
    client: Client,
    insurer: Insurer,
    end_date: date,
    *,
    start: bool = True,
    **values: Any,
) -> tuple[Policy, WorkflowHandle[Any, Any]]:
    async with sessions() as session:
        policy = await policies.create_policy(
            session,
            insurer.business.id,
            {
                "customer_id": insurer.customer_id,
                "policy_number": f"POL-{next(_numbers):06d}",
                "product": "Motor",
                "duration_months": 12,
                "end_date": end_date,
                **values,
            },
        )
    if start:
        await start_policy_workflow(client, policy)
    return policy, client.get_workflow_handle_for(PolicyWorkflow.run, policy_workflow_id(policy.id))


async def calls_of(sessions: SessionFactory, policy_id: int) -> list[Call]:
    async with sessions() as session:
        rows = await session.execute(select(Call).where(Call.policy_id == policy_id).order_by(Call.id))
        return list(rows.scalars())


async def policy_row(sessions: SessionFactory, policy_id: int) -> Policy:
    async with sessions() as session:
        policy = await session.get(Policy, policy_id)
        assert policy is not None
        return policy


def summarise_calls(
    voice_agent: VoiceAgentPeer, sessions: SessionFactory, client: Client, business_id: int, agreed: bool
) -> None:
    """Answered calls get their summary (stored and signalled as the API does) before the agent replies."""

    async def on_answered(body: dict[str, Any]) -> None:
        await record_call_summary(
            sessions, client, business_id, int(body["call_id"]), agreed, "spoke with customer"
        )

    voice_agent.on_answered = on_answered


def local_days(calls: list[Call]) -> list[str]:
    return [c.local_day.isoformat() if c.local_day else "-" for c in calls]


def as_local(instant: datetime | None, zone: str) -> str:
    return instant.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M") if instant else "-"


def midday_zone() -> ZoneInfo:
    """A fixed-offset zone where it is now about noon, so the test never straddles a local midnight."""
    offset = (12 - datetime.now(UTC).hour + 12) % 24 - 12
    return ZoneInfo("Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}")


def a_year_after(day: date) -> date:
    """The same day a year later; 29 February becomes the 28th (a renewal of twelve months)."""
    try:
        return day.replace(year=day.year + 1)
    except ValueError:
        return date(day.year + 1, 2, 28)
