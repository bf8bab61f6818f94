"""Customers by the business's own id (db.customers): create, change, find and upsert."""

from __future__ import annotations

from typing import Any

from db import customers as store
from db.engine import SessionFactory
from db.models import Customer
from db.tenants import customer_of

ExternalIdTaken = store.ExternalIdTaken


async def create(sessions: SessionFactory, business_id: int, values: dict[str, Any]) -> Customer:
    """Raises ``ExternalIdTaken``."""
    async with sessions() as session:
        return await store.create(session, business_id, values)


async def update(
    sessions: SessionFactory, business_id: int, customer_id: int, changes: dict[str, Any]
) -> Customer | None:
    async with sessions() as session:
        customer = await customer_of(session, business_id, customer_id)
        return None if customer is None else await store.update(session, customer, changes)


async def by_external_id(sessions: SessionFactory, business_id: int, external_id: str) -> Customer | None:
    async with sessions() as session:
        return await store.by_external_id(session, business_id, external_id)


async def upsert(
    sessions: SessionFactory, business_id: int, external_id: str, values: dict[str, Any]
) -> tuple[Customer, str]:
    async with sessions() as session:
        return await store.upsert(session, business_id, external_id, values)
