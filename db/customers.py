"""Customers by the business's own id: create with ``external_id`` and ``metadata``, find, upsert.

``metadata`` is the API's name; the column's attribute is ``meta`` (``metadata`` is SQLAlchemy's)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from db.conflicts import FieldConflict
from db.models import Customer

EXTERNAL_ID_UNIQUE = "uq_customers_business_external_id"


class ExternalIdTaken(FieldConflict):
    def __init__(self) -> None:
        super().__init__("external_id", "another customer of yours has this external_id")


def _columns(values: dict[str, Any]) -> dict[str, Any]:
    columns = dict(values)
    if "metadata" in columns:
        columns["meta"] = columns.pop("metadata")
    return columns


async def _commit(session: AsyncSession) -> None:
    try:
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        if EXTERNAL_ID_UNIQUE in str(exc.orig):
            raise ExternalIdTaken() from exc
        raise


async def create(session: AsyncSession, business_id: int, values: dict[str, Any]) -> Customer:
    customer = Customer(business_id=business_id, **_columns(values))
    session.add(customer)
    await _commit(session)
    await session.refresh(customer)
    return customer


async def update(session: AsyncSession, customer: Customer, changes: dict[str, Any]) -> Customer:
    for name, value in _columns(changes).items():
        setattr(customer, name, value)
    await _commit(session)
    await session.refresh(customer)
    return customer


async def by_external_id(session: AsyncSession, business_id: int, external_id: str) -> Customer | None:
    return await session.scalar(
        select(Customer).where(Customer.business_id == business_id, Customer.external_id == external_id)
    )


async def upsert(
    session: AsyncSession, business_id: int, external_id: str, values: dict[str, Any]
) -> tuple[Customer, str]:
    """The customer your id names made to have ``values`` (the fields sent; others keep theirs):
    ``created``, ``updated`` or ``unchanged`` (a repeat writes nothing)."""
    existing = await by_external_id(session, business_id, external_id)
    if existing is None:
        try:
            return await create(session, business_id, {**values, "external_id": external_id}), "created"
        except ExternalIdTaken:  # another upsert with this id committed first
            existing = await by_external_id(session, business_id, external_id)
            assert existing is not None
    columns = _columns(values)
    changes = {name: value for name, value in columns.items() if getattr(existing, name) != value}
    if not changes:
        return existing, "unchanged"  # (a rollback would expire it; closing the session ends the read)
    return await update(session, existing, changes), "updated"
