"""Businesses, their API keys and customers: the data access the API's handlers call."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import ApiKey, Business, Customer
from domain.automation import AutomationSettings


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def create_business(session: AsyncSession, values: dict[str, Any]) -> tuple[Business, str]:
    """A new business and its first API key (returned once, stored only as a hash)."""
    business = Business(**values)
    if _digest_mode(business.automation):
        business.digest_since = datetime.now(UTC)  # its first digest covers everything from now
    session.add(business)
    await session.flush()
    key = await issue_api_key(session, business.id)
    await session.commit()
    return business, key


async def business_named_like(session: AsyncSession, pattern: str) -> int | None:
    """The id of some business whose name matches the SQL LIKE ``pattern`` (None: none does)."""
    found: int | None = await session.scalar(select(Business.id).where(Business.name.like(pattern)).limit(1))
    return found


async def issue_api_key(session: AsyncSession, business_id: int) -> str:
    key = f"kt_{business_id}_{secrets.token_urlsafe(24)}"
    session.add(ApiKey(business_id=business_id, key_hash=hash_api_key(key), prefix=key[:12]))
    await session.flush()
    return key


async def business_for_key(session: AsyncSession, key: str) -> int | None:
    query = select(ApiKey.business_id).where(
        ApiKey.key_hash == hash_api_key(key), ApiKey.revoked_at.is_(None)
    )
    return (await session.execute(query)).scalar_one_or_none()


async def customer_of(session: AsyncSession, business_id: int, customer_id: int) -> Customer | None:
    """The customer if it belongs to ``business_id`` (another tenant's customer is simply not found)."""
    customer = await session.get(Customer, customer_id)
    return customer if customer is not None and customer.business_id == business_id else None


async def foreign_customer_ids(session: AsyncSession, business_id: int, customer_ids: list[int]) -> list[int]:
    """The ids among ``customer_ids`` that are not this business's customers (unknown or another tenant's)."""
    wanted = set(customer_ids)
    rows = await session.execute(
        select(Customer.id).where(Customer.business_id == business_id, Customer.id.in_(wanted))
    )
    return sorted(wanted - set(rows.scalars()))


async def set_preference(session: AsyncSession, customer_id: int, category: str, on: bool) -> Customer | None:
    """Turn one category of messages on or off for a customer (idempotent); None for an unknown customer."""
    customer = await session.get(Customer, customer_id, with_for_update=True)
    if customer is None:
        return None
    customer.preferences = {**(customer.preferences or {}), category: on}
    await session.commit()
    return customer


async def opt_out_phone(session: AsyncSession, phone: str, *, opted_in: bool) -> int:
    """STOP / START from an inbound SMS: every customer with that number, in every business."""
    result = await session.execute(
        update(Customer).where(Customer.phone == phone).values(sms_opted_in=opted_in)
    )
    await session.commit()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


PLANNING_FIELDS = ("automation", "time_zone")  # what the sleeping workflows plan with


async def update_business(session: AsyncSession, business_id: int, changes: dict[str, Any]) -> Business:
    """Store the changes; a change of what workflows plan with bumps ``settings_revision`` in the same
    transaction (an identical repeat bumps nothing, so its rollout is the one already started)."""
    business = await session.get(Business, business_id, with_for_update=True)
    assert business is not None  # the API key that named it exists
    planning_changed = any(
        field in changes and changes[field] != getattr(business, field) for field in PLANNING_FIELDS
    )
    was_digest = _digest_mode(business.automation)
    for field, value in changes.items():
        setattr(business, field, value)
    _digest_mode_changed(business, was_digest)
    if planning_changed:
        business.settings_revision += 1
    await session.commit()
    return business


def _digest_mode(automation: dict[str, Any] | None) -> bool:
    return AutomationSettings.from_stored(automation).settings.admin_alerts == "daily_digest"


def _digest_mode_changed(business: Business, was_digest: bool) -> None:
    """Entering digest mode opens the window of held alerts (unless an unreported one is still open: it
    goes on); leaving it marks where the final digest's window ends."""
    now_digest = _digest_mode(business.automation)
    if now_digest and not was_digest:
        business.digest_since = business.digest_since or datetime.now(UTC)
        business.digest_left_at = None
    elif was_digest and not now_digest:
        business.digest_left_at = datetime.now(UTC)


async def digest_reported(session: AsyncSession, business_id: int, until: datetime, *, final: bool) -> None:
    """The digest up to ``until`` is recorded: its window's start moves there (never back); a final one
    closes the window unless the business is in digest mode again."""
    business = await session.get(Business, business_id, with_for_update=True)
    if business is None:
        return
    if business.digest_since is None or business.digest_since < until:
        business.digest_since = until
    if final and not _digest_mode(business.automation):
        business.digest_since = None
    await session.commit()


async def bump_settings_revision(session: AsyncSession, business_id: int) -> int:
    """A settings change stored elsewhere (the call config): the new revision, for its rollout.
    Runs inside the caller's transaction."""
    revision = await session.scalar(
        update(Business)
        .where(Business.id == business_id)
        .values(settings_revision=Business.settings_revision + 1)
        .returning(Business.settings_revision)
    )
    assert revision is not None
    return int(revision)


async def settings_revision(session: AsyncSession, business_id: int) -> int:
    revision = await session.scalar(select(Business.settings_revision).where(Business.id == business_id))
    return int(revision or 0)


async def mark_rolled_out(session: AsyncSession, business_id: int, revision: int) -> None:
    """The rollout of ``revision`` reached every running workflow (never moves backwards)."""
    await session.execute(
        update(Business)
        .where(Business.id == business_id, Business.rolled_out_revision < revision)
        .values(rolled_out_revision=revision)
    )
    await session.commit()


async def businesses_not_rolled_out(session: AsyncSession) -> list[tuple[int, int]]:
    """(business id, settings revision) of every business whose latest settings have not reached its
    workflows yet: the reconciler starts (or finds) their rollout."""
    rows = await session.execute(
        select(Business.id, Business.settings_revision).where(
            Business.rolled_out_revision < Business.settings_revision
        )
    )
    return [(int(b), int(r)) for b, r in rows.all()]


async def create_customer(session: AsyncSession, business_id: int, values: dict[str, Any]) -> Customer:
    customer = Customer(business_id=business_id, **values)
    session.add(customer)
    await session.commit()
    await session.refresh(customer)
    return customer


async def update_customer(session: AsyncSession, customer: Customer, changes: dict[str, Any]) -> Customer:
    for field, value in changes.items():
        setattr(customer, field, value)
    await session.commit()
    return customer


async def businesses_with_digest(session: AsyncSession) -> list[int]:
    """Businesses whose admin alerts are ``daily_digest``: each has a digest workflow running."""
    rows = await session.execute(
        select(Business.id).where(Business.automation["admin_alerts"].astext == "daily_digest")
    )
    return [int(business_id) for business_id in rows.scalars()]
