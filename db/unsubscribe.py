"""What an unsubscribe link reads and changes: one customer of one business, and one category."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Business, Customer


@dataclass(frozen=True)
class StoredSubscription:
    business_name: str
    preferences: dict[str, Any]


async def subscription(
    session: AsyncSession, business_id: int, customer_id: int, *, turn_off: str | None = None
) -> StoredSubscription | None:
    """The customer's preferences if the customer belongs to the business (else None); with ``turn_off``,
    that category is turned off first under the row's lock (a repeat changes nothing)."""
    query = (
        select(Customer, Business.name)
        .join(Business, Business.id == Customer.business_id)
        .where(Customer.id == customer_id, Customer.business_id == business_id)
    )
    if turn_off is not None:
        query = query.with_for_update(of=Customer)
    found = (await session.execute(query)).one_or_none()
    if found is None:
        return None
    customer, business_name = found
    if turn_off is not None and (customer.preferences or {}).get(turn_off) is not False:
        customer.preferences = {**(customer.preferences or {}), turn_off: False}
        await session.commit()
    return StoredSubscription(business_name, dict(customer.preferences or {}))
