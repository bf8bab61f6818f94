"""Read-side queries for the policy operator endpoints: listings, pending customers, today's statistics."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db import external_ids, pages
from db.models import Call, Customer, Policy
from domain.statuses import CallStatus, PolicyStatus

POLICIES_BY_END: pages.Order[Policy] = pages.Order(
    "end_date",
    (pages.Key(Policy.end_date, lambda p: p.end_date, date), pages.Key(Policy.id, lambda p: p.id)),
)
POLICIES_BY_CHANGE: pages.Order[Policy] = pages.Order(
    "updated_at",
    (pages.Key(Policy.updated_at, lambda p: p.updated_at, datetime), pages.Key(Policy.id, lambda p: p.id)),
)
_CALL_MOMENT = func.coalesce(Call.started_at, Call.scheduled_for, Call.created_at)
CALLS_NEWEST_FIRST: pages.Order[Call] = pages.Order(
    "newest",
    (
        pages.Key(
            _CALL_MOMENT, lambda c: c.started_at or c.scheduled_for or c.created_at, datetime, descending=True
        ),
        pages.Key(Call.id, lambda c: c.id, descending=True),
    ),
)


async def list_policies(
    session: AsyncSession,
    business_id: int,
    status: PolicyStatus | None,
    limit: int,
    *,
    customer_id: int | None = None,
    external_id: str | None = None,
    updated_after: datetime | None = None,
    after: str | None = None,
) -> tuple[list[Policy], str | None]:
    """A page, soonest end first, or in the order of their last change with ``updated_after``; and the
    next page's cursor (None: the last). ``after``: a cursor this list answered (else ``BadCursor``)."""
    order = POLICIES_BY_END if updated_after is None else POLICIES_BY_CHANGE
    position = order.position(after) if after is not None else None
    statement = external_ids.filtered(
        select(Policy).where(Policy.business_id == business_id), Policy, external_id
    )
    if status is not None:
        statement = statement.where(Policy.status == status)
    if customer_id is not None:
        statement = statement.where(Policy.customer_id == customer_id)
    if updated_after is not None:
        statement = statement.where(Policy.updated_at > updated_after)
    rows = list((await session.execute(pages.ordered(statement, order, position, limit))).scalars())
    return pages.page(rows, order, limit)


@dataclass(frozen=True)
class CallFilter:
    status: CallStatus | None = None
    policy_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None


async def list_calls(
    session: AsyncSession, business_id: int, where: CallFilter, limit: int, after: str | None = None
) -> tuple[list[Call], str | None]:
    """A page of calls newest first, and the next page's cursor; ``since``/``until`` bound the call's time
    (started, else scheduled). ``after``: a cursor this list answered (else ``BadCursor``)."""
    position = CALLS_NEWEST_FIRST.position(after) if after is not None else None
    moment = _CALL_MOMENT
    statement = select(Call).where(Call.business_id == business_id)
    if where.status is not None:
        statement = statement.where(Call.status == where.status)
    if where.policy_id is not None:
        statement = statement.where(Call.policy_id == where.policy_id)
    if where.since is not None:
        statement = statement.where(moment >= where.since)
    if where.until is not None:
        statement = statement.where(moment < where.until)
    rows = list(
        (await session.execute(pages.ordered(statement, CALLS_NEWEST_FIRST, position, limit))).scalars()
    )
    return pages.page(rows, CALLS_NEWEST_FIRST, limit)


async def calls_of_policy(session: AsyncSession, policy_id: int) -> list[Call]:
    rows = await session.execute(select(Call).where(Call.policy_id == policy_id).order_by(Call.id))
    return list(rows.scalars())


PENDING_SOONEST_FIRST: pages.Order[tuple[Policy, Customer, date | None]] = pages.Order(
    "next_call_at",
    (
        pages.Key(Policy.next_call_at, lambda row: row[0].next_call_at, datetime),
        pages.Key(Policy.end_date, lambda row: row[0].end_date, date),
        pages.Key(Policy.id, lambda row: row[0].id),
    ),
)


async def pending_customers(
    session: AsyncSession, business_id: int, before: datetime, limit: int, after: str | None = None
) -> tuple[list[tuple[Policy, Customer, date | None]], str | None]:
    """A page of active policies with a call planned before ``before``: soonest call first, then soonest
    expiry; and the next page's cursor. ``after``: a cursor this list answered (else ``BadCursor``)."""
    position = PENDING_SOONEST_FIRST.position(after) if after is not None else None
    last_call = (
        select(Call.policy_id, func.max(Call.local_day).label("day"))
        .where(Call.business_id == business_id, Call.status.in_(CallStatus.placed()))
        .group_by(Call.policy_id)
        .subquery()
    )
    statement = (
        select(Policy, Customer, last_call.c.day)
        .join(Customer, Customer.id == Policy.customer_id)
        .outerjoin(last_call, last_call.c.policy_id == Policy.id)
        .where(
            Policy.business_id == business_id,
            Policy.status == PolicyStatus.ACTIVE,
            Policy.next_call_at.is_not(None),
            Policy.next_call_at < before,
        )
    )
    rows = await session.execute(pages.ordered(statement, PENDING_SOONEST_FIRST, position, limit))
    found = [(policy, customer, day) for policy, customer, day in rows.all()]
    return pages.page(found, PENDING_SOONEST_FIRST, limit)


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
