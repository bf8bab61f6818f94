"""Read-side queries for the policy operator endpoints: listings, pending customers, today's statistics."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Call, Customer, Policy
from domain.statuses import CallStatus, PolicyStatus


async def list_policies(
    session: AsyncSession,
    business_id: int,
    status: PolicyStatus | None,
    limit: int,
    *,
    customer_id: int | None = None,
) -> list[Policy]:
    statement = select(Policy).where(Policy.business_id == business_id)
    if status is not None:
        statement = statement.where(Policy.status == status)
    if customer_id is not None:
        statement = statement.where(Policy.customer_id == customer_id)
    rows = await session.execute(statement.order_by(Policy.end_date, Policy.id).limit(limit))
    return list(rows.scalars())


@dataclass(frozen=True)
class CallFilter:
    status: CallStatus | None = None
    policy_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None


async def list_calls(session: AsyncSession, business_id: int, where: CallFilter, limit: int) -> list[Call]:
    """Calls newest first; ``since``/``until`` bound the call's time (started, else scheduled)."""
    moment = func.coalesce(Call.started_at, Call.scheduled_for, Call.created_at)
    statement = select(Call).where(Call.business_id == business_id)
    if where.status is not None:
        statement = statement.where(Call.status == where.status)
    if where.policy_id is not None:
        statement = statement.where(Call.policy_id == where.policy_id)
    if where.since is not None:
        statement = statement.where(moment >= where.since)
    if where.until is not None:
        statement = statement.where(moment < where.until)
    rows = await session.execute(statement.order_by(moment.desc(), Call.id.desc()).limit(limit))
    return list(rows.scalars())


async def calls_of_policy(session: AsyncSession, policy_id: int) -> list[Call]:
    rows = await session.execute(select(Call).where(Call.policy_id == policy_id).order_by(Call.id))
    return list(rows.scalars())


async def pending_customers(
    session: AsyncSession, business_id: int, before: datetime, limit: int
) -> list[tuple[Policy, Customer, date | None]]:
    """Active policies with a call planned before ``before``: soonest call first, then soonest expiry."""
    last_call = (
        select(Call.policy_id, func.max(Call.local_day).label("day"))
        .where(Call.business_id == business_id, Call.status.in_(CallStatus.placed()))
        .group_by(Call.policy_id)
        .subquery()
    )
    rows = await session.execute(
        select(Policy, Customer, last_call.c.day)
        .join(Customer, Customer.id == Policy.customer_id)
        .outerjoin(last_call, last_call.c.policy_id == Policy.id)
        .where(
            Policy.business_id == business_id,
            Policy.status == PolicyStatus.ACTIVE,
            Policy.next_call_at.is_not(None),
            Policy.next_call_at < before,
        )
        .order_by(Policy.next_call_at, Policy.end_date, Policy.id)
        .limit(limit)
    )
    return [(policy, customer, day) for policy, customer, day in rows.all()]


async def day_statistics(
    session: AsyncSession, business_id: int, day: date, now: datetime, day_ends: datetime
) -> dict[str, Any]:
    """Calls of one business-local day by outcome, and what is still planned for it."""
    by_status = dict(
        (
            await session.execute(
                select(Call.status, func.count())
                .where(
                    Call.business_id == business_id,
                    Call.local_day == day,
                    Call.status.in_(CallStatus.placed()),
                )
                .group_by(Call.status)
            )
        ).all()
    )
    planned = (
        select(func.count())
        .select_from(Policy)
        .where(Policy.business_id == business_id, Policy.status == PolicyStatus.ACTIVE)
    )
    due_now = await session.scalar(planned.where(Policy.next_call_at <= now))
    later_today = await session.scalar(
        planned.where(Policy.next_call_at > now, Policy.next_call_at < day_ends)
    )
    next_call = await session.scalar(
        select(func.min(Policy.next_call_at)).where(
            Policy.business_id == business_id, Policy.status == PolicyStatus.ACTIVE
        )
    )
    agreed = await session.scalar(
        select(func.count())
        .select_from(Call)
        .where(Call.business_id == business_id, Call.local_day == day, Call.renewal_agreed.is_(True))
    )

    def count(*statuses: CallStatus) -> int:
        return sum(int(by_status.get(s, 0)) for s in statuses)

    return {
        "date": day.isoformat(),
        "scheduled": int(later_today or 0),
        "pending": int(due_now or 0),
        "in_progress": count(CallStatus.DIALING, CallStatus.ANSWERED),
        "completed": count(CallStatus.COMPLETED, CallStatus.DECLINED, CallStatus.NO_ANSWER),
        "failed": count(CallStatus.FAILED),
        "renewals_agreed": int(agreed or 0),
        "next_call_at": next_call.isoformat() if next_call else None,
    }
