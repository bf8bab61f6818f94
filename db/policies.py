"""Policies, their renewal calls and the call scheduler config: the queries the API and activities share."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, delete, func, select, text, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from db import events, external_ids
from db.models import Business, Call, CallSchedulerConfigRow, Policy
from db.tenants import bump_settings_revision, settings_revision
from domain.call_config import CallSchedulerConfig
from domain.events import CALL_STATUS_EVENTS, CallCappedPayload, CallPayload, PolicyPayload
from domain.policy_plan import skip_gap_days
from domain.statuses import CallStatus, PolicyStatus

CALLS_LOCK_CLASS = 7101  # pg_advisory_xact_lock(class, business_id): one call claim at a time per business


async def call_config(session: AsyncSession, business_id: int) -> CallSchedulerConfig:
    row = await session.get(CallSchedulerConfigRow, business_id)
    return CallSchedulerConfig.model_validate(row.config) if row else CallSchedulerConfig()


async def save_call_config(session: AsyncSession, business_id: int, config: CallSchedulerConfig) -> int:
    """Store the config; returns the business's new settings revision (the rollout that carries it)."""
    stored = config.model_dump(mode="json")
    async with session.begin():
        row = await session.get(CallSchedulerConfigRow, business_id, with_for_update=True)
        in_force = row.config if row is not None else CallSchedulerConfig().model_dump(mode="json")
        if in_force == stored:  # a repeat (or the defaults stored): nothing changes, no new rollout
            return await settings_revision(session, business_id)
        if row is None:
            session.add(CallSchedulerConfigRow(business_id=business_id, config=stored))
        else:
            row.config = stored
        return await bump_settings_revision(session, business_id)


async def lock_business_calls(session: AsyncSession, business_id: int) -> None:
    await session.execute(
        text("SELECT pg_advisory_xact_lock(:lock_class, :business_id)"),
        {"lock_class": CALLS_LOCK_CLASS, "business_id": business_id},
    )


async def call_settings(
    session: AsyncSession, business_id: int
) -> tuple[ZoneInfo, CallSchedulerConfig] | None:
    """The business's time zone and call config (None: no such business)."""
    business = await session.get(Business, business_id)
    if business is None:
        return None
    return ZoneInfo(business.time_zone), await call_config(session, business_id)


async def locked_policy(session: AsyncSession, business_id: int, policy_id: int) -> Policy | None:
    """The business's policy, row-locked until the transaction ends (None: not theirs or gone)."""
    found: Policy | None = await session.scalar(
        select(Policy).where(Policy.id == policy_id, Policy.business_id == business_id).with_for_update()
    )
    return found


async def share_locked_policy(session: AsyncSession, policy_id: int) -> Policy:
    """A policy share-locked: changes to it (a cancellation) wait until this transaction ends."""
    return (
        await session.execute(select(Policy).where(Policy.id == policy_id).with_for_update(read=True))
    ).scalar_one()


async def locked_call(session: AsyncSession, business_id: int, call_id: int) -> Call | None:
    found: Call | None = await session.scalar(
        select(Call).where(Call.id == call_id, Call.business_id == business_id).with_for_update()
    )
    return found


async def call_by_key(session: AsyncSession, call_key: str) -> Call | None:
    """The call a claim with this key created (a retried claim finds its own call)."""
    found: Call | None = await session.scalar(select(Call).where(Call.call_key == call_key))
    return found


async def calls_placed_on(session: AsyncSession, business_id: int, day: date) -> int:
    """Calls placed on one business-local day (what ``max_calls_per_day`` counts)."""
    return await _count_calls(
        session, Call.business_id == business_id, Call.local_day == day, Call.status.in_(CallStatus.placed())
    )


async def calls_in_flight(session: AsyncSession, business_id: int) -> int:
    return await _count_calls(
        session, Call.business_id == business_id, Call.status.in_(CallStatus.in_flight())
    )


async def policies_ahead(session: AsyncSession, policy: Policy, now: datetime, day_start: datetime) -> int:
    """Active policies of the business due now (planned since ``day_start``) expiring sooner than this one."""
    count = await session.scalar(
        select(func.count())
        .select_from(Policy)
        .where(
            Policy.business_id == policy.business_id,
            Policy.status == PolicyStatus.ACTIVE,
            Policy.id != policy.id,
            Policy.next_call_at >= day_start,
            Policy.next_call_at <= now,
            tuple_(Policy.end_date, Policy.id) < tuple_(policy.end_date, policy.id),
        )
    )
    return int(count or 0)


async def close_dialing_call(
    session: AsyncSession, call_id: int, status: CallStatus, error: str | None, *, ended: bool = True
) -> None:
    """Move a call out of ``dialing`` unless its summary already moved it on (then no event either)."""
    moved = await session.execute(
        update(Call)
        .where(Call.id == call_id, Call.status == CallStatus.DIALING)
        .values(status=status, error=error, ended_at=datetime.now(UTC) if ended else None)
        .returning(Call)
    )
    for call in moved.scalars():
        record_call(session, call)


def record_call(session: AsyncSession, call: Call) -> None:
    """The event of the status ``call`` has just been given, in its transaction (the outbox)."""
    event_type = CALL_STATUS_EVENTS.get(call.status.value)
    if event_type is None:
        return
    payload = CallPayload(
        call_id=call.id,
        policy_id=call.policy_id,
        kind=call.kind,
        status=call.status.value,
        renewal_agreed=call.renewal_agreed,
        scheduled_for=call.scheduled_for,
    )
    events.record(session, call.business_id, event_type, ("call", call.id), datetime.now(UTC), payload)


def record_capped(
    session: AsyncSession,
    policy: Policy,
    call: Call | None,
    retry_at: datetime,
    placed_today: int,
    max_calls_per_day: int,
) -> None:
    """``call.capped``, once per move: a retried claim finding the call moved there records none."""
    moved_to = call.scheduled_for if call is not None else policy.call_not_before
    if moved_to == retry_at:
        return
    payload = CallCappedPayload(
        policy_id=policy.id,
        call_id=call.id if call is not None else None,
        kind=call.kind if call is not None else "automatic",
        retry_at=retry_at,
        placed_today=placed_today,
        max_calls_per_day=max_calls_per_day,
    )
    events.record(
        session, policy.business_id, "call.capped", ("policy", policy.id), datetime.now(UTC), payload
    )


def record_policy(session: AsyncSession, policy: Policy, event_type: str) -> None:
    payload = PolicyPayload(
        policy_id=policy.id,
        customer_id=policy.customer_id,
        status=policy.status.value,
        term=policy.term,
        end_date=policy.end_date,
        external_id=policy.external_id,
    )
    events.record(session, policy.business_id, event_type, ("policy", policy.id), datetime.now(UTC), payload)


async def _count_calls(session: AsyncSession, *conditions: ColumnElement[bool]) -> int:
    return int(await session.scalar(select(func.count()).select_from(Call).where(*conditions)) or 0)


async def last_call_day(session: AsyncSession, policy_id: int) -> date | None:
    day: date | None = await session.scalar(
        select(func.max(Call.local_day)).where(
            Call.policy_id == policy_id, Call.status.in_(CallStatus.placed())
        )
    )
    return day


async def locked_scheduled_call(session: AsyncSession, policy_id: int, call_id: int) -> Call | None:
    """The policy's manual call, row-locked, if it is still scheduled."""
    found: Call | None = await session.scalar(
        select(Call)
        .where(Call.id == call_id, Call.policy_id == policy_id, Call.status == CallStatus.SCHEDULED)
        .with_for_update()
    )
    return found


async def scheduled_manual_calls(session: AsyncSession, policy_id: int) -> list[Call]:
    rows = await session.execute(
        select(Call)
        .where(Call.policy_id == policy_id, Call.status == CallStatus.SCHEDULED)
        .order_by(Call.scheduled_for)
    )
    return list(rows.scalars())


async def policy_of(session: AsyncSession, business_id: int, policy_id: int) -> Policy | None:
    policy = await session.get(Policy, policy_id)
    return policy if policy is not None and policy.business_id == business_id else None


class PolicyNumberTaken(Exception):
    """The business already has a policy with this policy_number."""


async def create_policy(session: AsyncSession, business_id: int, values: dict[str, Any]) -> Policy:
    """Insert a policy; the UNIQUE (business, policy_number) constraint decides races."""
    policy = Policy(business_id=business_id, **external_ids.columns(values))
    session.add(policy)
    try:
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        external_ids.raise_if_taken(exc, Policy, "policy")
        if "uq_policies_business_number" in str(exc.orig):
            raise PolicyNumberTaken(values.get("policy_number", "")) from exc
        raise
    return policy


async def active_policies(session: AsyncSession) -> list[Policy]:
    rows = await session.execute(select(Policy).where(Policy.status == PolicyStatus.ACTIVE))
    return list(rows.scalars())


async def active_policy_ids(session: AsyncSession, business_id: int) -> list[int]:
    rows = await session.execute(
        select(Policy.id).where(Policy.business_id == business_id, Policy.status == PolicyStatus.ACTIVE)
    )
    return list(rows.scalars())


async def policies_due_within(session: AsyncSession, business_id: int, before: datetime) -> list[int]:
    rows = await session.execute(
        select(Policy.id)
        .where(
            Policy.business_id == business_id,
            Policy.status == PolicyStatus.ACTIVE,
            Policy.next_call_at.is_not(None),
            Policy.next_call_at <= before,
        )
        .order_by(Policy.end_date, Policy.id)
    )
    return list(rows.scalars())


async def delete_finished_calls_before(session: AsyncSession, business_id: int, before: datetime) -> int:
    """Delete the business's finished call records created before ``before``."""
    statement = delete(Call).where(
        Call.business_id == business_id, Call.status.in_(CallStatus.finished()), Call.created_at < before
    )
    async with session.begin():
        result = await session.execute(statement.returning(Call.id))
        return len(result.all())


def add_months(day: date, months: int) -> date:
    """``day`` plus whole months, clamped to the month's last day (31 Jan + 1 month = 28/29 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def apply_action(session: AsyncSession, policy: Policy, action: str, scheduled: list[Call]) -> None:
    """An operator's action on a locked policy (idempotent): cancel, stop_calls or call_now (its events
    added to the session's transaction)."""
    if policy.status != PolicyStatus.ACTIVE:
        return
    if action == "cancel":
        policy.status, policy.next_call_at = PolicyStatus.CANCELLED, None
        for call in scheduled:
            call.status, call.error = CallStatus.CANCELLED, "policy cancelled"
            record_call(session, call)
    elif action == "stop_calls":
        policy.calls_stopped = True
    elif action == "call_now":
        policy.call_now_requested = True
    elif action == "decline":  # the agent's summary says the customer will not renew this term
        policy.declined_at = policy.declined_at or datetime.now(UTC)
    else:
        raise ValueError(f"unknown policy action {action!r}")


class CallSummaryConflict(Exception):
    """The call cannot take this summary (not answered, or a different summary is already stored)."""


async def store_call_summary(
    session: AsyncSession, business_id: int, call_id: int, renewal_agreed: bool, summary: str | None
) -> Call | None:
    """Store the voice agent's summary on an answered call (idempotent for the same summary).

    Returns None for an unknown call; raises CallSummaryConflict when the call cannot take it."""
    async with session.begin():
        call = await locked_call(session, business_id, call_id)
        if call is None:
            return None
        if call.status == CallStatus.COMPLETED and call.renewal_agreed == renewal_agreed:
            return call
        if call.status not in CallStatus.in_flight():
            raise CallSummaryConflict(f"call {call_id} is {call.status.value}")
        call.status, call.renewal_agreed, call.summary = CallStatus.COMPLETED, renewal_agreed, summary
        call.ended_at, call.error = datetime.now(UTC), None
        record_call(session, call)
        return call


class CallNotAllowed(Exception):
    """A manual call that would break the skip window or fall outside the policy's term."""


async def schedule_manual_call(
    session: AsyncSession,
    business_id: int,
    policy_id: int,
    at: datetime,
    config: CallSchedulerConfig,
    zone: ZoneInfo,
) -> Call | None:
    """Schedule an operator's call (None: no such policy); refused (CallNotAllowed) within
    ``skip_if_called_within_days`` of another call."""
    async with session.begin():
        policy = await locked_policy(session, business_id, policy_id)
        if policy is None:
            return None
        if policy.status != PolicyStatus.ACTIVE:
            raise CallNotAllowed(f"the policy is {policy.status.value}")
        day = at.astimezone(zone).date()
        gap = skip_gap_days(config)
        rows = await session.execute(
            select(Call.local_day, Call.scheduled_for, Call.status).where(
                Call.policy_id == policy.id, Call.status.in_((*CallStatus.placed(), CallStatus.SCHEDULED))
            )
        )
        for other_day, scheduled_for, status in rows.all():
            other = other_day or (scheduled_for.astimezone(zone).date() if scheduled_for else None)
            if other is not None and abs((day - other).days) < gap:
                raise CallNotAllowed(
                    f"another call ({status.value}) on {other} is within skip_if_called_within_days={gap}"
                )
        call = Call(
            business_id=policy.business_id,
            policy_id=policy.id,
            kind="manual",
            status=CallStatus.SCHEDULED,
            reason="manual call scheduled by an operator",
            scheduled_for=at,
            local_day=day,
        )
        session.add(call)
        await session.flush()  # its id, for the event
        record_call(session, call)
    return call


async def cancel_scheduled_call(session: AsyncSession, business_id: int, call_id: int) -> Call | None:
    """Cancel a scheduled manual call; returns the call as it now is (None: no such call)."""
    async with session.begin():
        call = await locked_call(session, business_id, call_id)
        if call is None:
            return None
        if call.status == CallStatus.SCHEDULED:
            call.status, call.error = CallStatus.CANCELLED, "cancelled by an operator"
            record_call(session, call)
        return call


async def request_calls_now(session: AsyncSession, business_id: int, before: datetime) -> list[int]:
    """Mark every active policy with a call planned before ``before`` to be called now; returns their ids."""
    async with session.begin():
        ids = await policies_due_within(session, business_id, before)
        if ids:
            await session.execute(update(Policy).where(Policy.id.in_(ids)).values(call_now_requested=True))
    return ids


class PolicyNotActive(Exception):
    """Only an active policy can be changed."""


async def update_policy(
    session: AsyncSession, business_id: int, policy_id: int, values: dict[str, Any]
) -> Policy | None:
    """Change an active policy's fields (the workflow re-plans when told); None if there is no such policy.
    Raises ``external_ids.ExternalIdTaken``."""
    try:
        async with session.begin():
            policy = await locked_policy(session, business_id, policy_id)
            if policy is None:
                return None
            if policy.status != PolicyStatus.ACTIVE:
                raise PolicyNotActive(f"the policy is {policy.status.value}")
            for name, value in external_ids.columns(values).items():
                setattr(policy, name, value)
            if "end_date" in values:
                policy.call_not_before = None  # a postponement belonged to the old timeline
    except IntegrityError as exc:
        external_ids.raise_if_taken(exc, Policy, "policy")
        raise
    return policy


async def act_on_policy(
    session: AsyncSession, business_id: int, policy_id: int, action: str
) -> Policy | None:
    async with session.begin():
        policy = await locked_policy(session, business_id, policy_id)
        if policy is None:
            return None
        apply_action(session, policy, action, await scheduled_manual_calls(session, policy.id))
    return policy
