"""Inventory items and movements: a movement and the shortage check run in one transaction under the
item's lock, so a shortage is told at the moment the stock crosses below its threshold, once per crossing
(``shortage_alerted_at``), and re-armed when the stock is back at or above it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from db import staff
from db.conflicts import FieldConflict
from db.models import InventoryItem, InventoryMovement
from db.repeats import body_digest, same_request
from domain.statuses import StaffRole

TOLD_OF_SHORTAGES = (StaffRole.ADMIN, StaffRole.PM)


class InventoryConflict(FieldConflict):
    """Raised by this module's changes (``field`` names the input at fault)."""


@dataclass(frozen=True)
class AddedItem:
    item: InventoryItem
    created: bool


async def add_item(
    session: AsyncSession, business_id: int, values: dict[str, Any], now: datetime
) -> AddedItem:
    """A new item (its name is UNIQUE per company); an item that starts short is told at once. A repeat of
    the body that added it answers with the item as it is now; another body under its name is a conflict.
    Commits."""
    async with session.begin():
        inserted = await session.execute(
            insert(InventoryItem)
            .values(business_id=business_id, created_from=body_digest(values), **values)
            .on_conflict_do_nothing(index_elements=["business_id", "name"])
            .returning(InventoryItem.id)
        )
        item_id = inserted.scalar()
        if item_id is None:
            item = (
                await session.execute(
                    select(InventoryItem).where(
                        InventoryItem.business_id == business_id, InventoryItem.name == values["name"]
                    )
                )
            ).scalar_one()
            if not same_request(item.created_from, values, unchanged=False):
                raise InventoryConflict("name", "another item has this name")
            return AddedItem(item, False)
        added = await session.get(InventoryItem, item_id, with_for_update=True)
        assert added is not None
        await check_shortage(session, added, now)
    return AddedItem(added, True)


async def item_of(
    session: AsyncSession, business_id: int, item_id: int, *, lock: bool = False
) -> InventoryItem | None:
    query = select(InventoryItem).where(InventoryItem.id == item_id, InventoryItem.business_id == business_id)
    return (await session.execute(query.with_for_update() if lock else query)).scalar_one_or_none()


async def items(session: AsyncSession, business_id: int, *, short_only: bool) -> list[InventoryItem]:
    query = select(InventoryItem).where(InventoryItem.business_id == business_id)
    if short_only:
        query = query.where(InventoryItem.quantity < InventoryItem.threshold)
    return list((await session.execute(query.order_by(InventoryItem.name))).scalars())


@dataclass(frozen=True)
class Moved:
    item: InventoryItem
    movement: InventoryMovement
    created: bool


async def move(
    session: AsyncSession, business_id: int, item_id: int, reference: str, delta: int, now: datetime
) -> Moved | None:
    """Apply one movement (a repeat of its ``reference`` applies nothing and returns the first), then check
    for a shortage. Stock never goes below zero. Commits; None: no such item."""
    async with session.begin():
        item = await item_of(session, business_id, item_id, lock=True)
        if item is None:
            return None
        earlier = (
            await session.execute(
                select(InventoryMovement).where(
                    InventoryMovement.item_id == item_id, InventoryMovement.reference == reference
                )
            )
        ).scalar_one_or_none()
        if earlier is not None:
            if earlier.delta != delta:
                raise InventoryConflict("reference", "this reference was used with another delta")
            return Moved(item, earlier, False)
        if item.quantity + delta < 0:
            raise InventoryConflict("delta", f"only {item.quantity} {item.unit} in stock")
        item.quantity += delta
        movement = InventoryMovement(
            business_id=business_id,
            item_id=item_id,
            reference=reference,
            delta=delta,
            quantity_after=item.quantity,
        )
        session.add(movement)
        await check_shortage(session, item, now)
        await session.flush()
    return Moved(item, movement, True)


async def check_shortage(session: AsyncSession, item: InventoryItem, now: datetime) -> int:
    """Under the item's lock: tell admins and PMs of a new crossing below the threshold (once), or re-arm
    the alert when the stock is back. Returns the notifications created."""
    if item.quantity >= item.threshold:
        item.shortage_alerted_at = None
        return 0
    if item.shortage_alerted_at is not None:
        return 0  # this crossing was told already
    item.shortage_alerted_at = now
    return await staff.tell(
        session,
        item.business_id,
        TOLD_OF_SHORTAGES,
        key=f"inventory_item:{item.id}:inventory.shortage:{now.isoformat()}",
        event="inventory.shortage",
        entity=("inventory_item", item.id),
        title=f"{item.name}: {item.quantity} {item.unit} left (threshold {item.threshold})",
        link=f"/v1/inventory/{item.id}",
    )
