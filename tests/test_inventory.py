"""Inventory shortages on real PostgreSQL: told once per crossing below the threshold (at the movement that
crosses), re-armed when the stock is back, a repeated movement applied once; the daily safety net."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from db import inventory
from db.engine import SessionFactory
from db.models import InAppNotification, InventoryItem
from domain.job_types import BatchJobInput
from keeptime.settings import Settings
from tests.invoice_support import company
from tests.test_batch_jobs import _twice

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


async def _told(sessions: SessionFactory, item_id: int) -> list[tuple[int, str]]:
    async with sessions() as session:
        rows = await session.execute(
            select(InAppNotification.user_id, InAppNotification.message_key)
            .where(InAppNotification.entity_type == "inventory_item", InAppNotification.entity_id == item_id)
            .order_by(InAppNotification.id)
        )
        return [(user_id, key) for user_id, key in rows.all()]


async def _move(
    sessions: SessionFactory, business_id: int, item_id: int, ref: str, delta: int, minute: int
) -> int:
    async with sessions() as session:
        moved = await inventory.move(session, business_id, item_id, ref, delta, NOW.replace(minute=minute))
    assert moved is not None
    return moved.item.quantity


async def test_a_shortage_is_told_once_per_crossing_and_re_armed_when_restocked(
    sessions: SessionFactory,
) -> None:
    business_id, users = await company(sessions)
    async with sessions() as session:
        item = (
            await inventory.add_item(
                session, business_id, {"name": "Cement", "unit": "bags", "quantity": 10, "threshold": 5}, NOW
            )
        ).item
    assert await _move(sessions, business_id, item.id, "use-1", -3, 1) == 7
    assert await _told(sessions, item.id) == []  # 7 >= 5: not short
    assert await _move(sessions, business_id, item.id, "use-2", -3, 2) == 4  # crosses below 5
    first = await _told(sessions, item.id)
    assert sorted(user for user, _ in first) == sorted([users["ana"], users["pia"]])  # admin and PM
    assert await _move(sessions, business_id, item.id, "use-3", -1, 3) == 3  # still short: nothing new
    assert await _move(sessions, business_id, item.id, "use-3", -1, 4) == 3  # a repeat moves nothing
    with pytest.raises(inventory.InventoryConflict) as reused:
        await _move(sessions, business_id, item.id, "use-3", -2, 5)
    assert reused.value.field == "reference"
    with pytest.raises(inventory.InventoryConflict) as too_much:
        await _move(sessions, business_id, item.id, "use-4", -4, 5)
    assert too_much.value.field == "delta"
    assert await _told(sessions, item.id) == first
    assert await _move(sessions, business_id, item.id, "delivery-1", 10, 6) == 13  # back above: re-armed
    assert await _move(sessions, business_id, item.id, "use-5", -9, 7) == 4  # a new crossing: told again
    told = await _told(sessions, item.id)
    assert len(told) == 4 and told[:2] == first


async def test_an_item_that_starts_short_is_told_at_once(sessions: SessionFactory) -> None:
    business_id, _ = await company(sessions)
    async with sessions() as session:
        item = (
            await inventory.add_item(
                session, business_id, {"name": "Rebar", "unit": "m", "quantity": 0, "threshold": 100}, NOW
            )
        ).item
    assert len(await _told(sessions, item.id)) == 2
    async with sessions() as session:
        again = await inventory.add_item(
            session, business_id, {"name": "Rebar", "unit": "m", "quantity": 0, "threshold": 100}, NOW
        )
    assert (again.item.id, again.created) == (item.id, False)
    assert len(await _told(sessions, item.id)) == 2  # a repeat tells nobody again
    async with sessions() as session:
        with pytest.raises(inventory.InventoryConflict):
            await inventory.add_item(
                session, business_id, {"name": "Rebar", "unit": "m", "quantity": 5, "threshold": 1}, NOW
            )


async def test_the_daily_safety_net_tells_short_items_never_told_once(
    skipping_env: WorkflowEnvironment, sessions: SessionFactory, provider_settings: Settings
) -> None:
    business_id, users = await company(sessions)
    async with sessions() as session:  # rows changed outside the API: nobody was told
        rows = [
            InventoryItem(
                business_id=business_id, name=name, unit="pcs", quantity=q, threshold=t, shortage_alerted_at=a
            )
            for name, q, t, a in (
                ("short, never told", 4, 5, None),
                ("at the threshold", 5, 5, None),
                ("short, told already", 1, 5, NOW),
                ("restocked outside the API", 9, 5, NOW),
            )
        ]
        session.add_all(rows)
        await session.commit()
    first, second = await _twice(
        skipping_env, sessions, provider_settings, BatchJobInput(job="inventory-shortage-check")
    )
    assert (first.scanned, first.changed, second.changed) == (4, 2, 0)  # one told, one re-armed
    async with sessions() as session:
        restocked = await session.get(InventoryItem, rows[3].id)
        assert restocked is not None and restocked.shortage_alerted_at is None  # its next crossing tells
    assert sorted(user for user, _ in await _told(sessions, rows[0].id)) == sorted(
        [users["ana"], users["pia"]]
    )
    assert await _told(sessions, rows[1].id) == [] and await _told(sessions, rows[2].id) == []


async def test_a_company_that_asks_for_daily_reminders_hears_again_each_morning_while_short(
    skipping_env: WorkflowEnvironment, sessions: SessionFactory, provider_settings: Settings
) -> None:
    now = datetime.now(UTC)  # the job's cut-off is its workflow's clock
    daily, daily_users = await company(sessions, automation={"inventory_shortage_reminders": "daily"})
    once, _ = await company(sessions)
    async with sessions() as session:
        rows = [
            InventoryItem(
                business_id=business_id, name=name, unit="pcs", quantity=q, threshold=5, shortage_alerted_at=a
            )
            for business_id, name, q, a in (
                (daily, "told yesterday morning", 1, now - timedelta(hours=21)),
                (daily, "told an hour ago", 1, now - timedelta(hours=1)),
                (daily, "restocked", 9, None),
                (once, "told yesterday, once is enough", 1, now - timedelta(hours=21)),
            )
        ]
        session.add_all(rows)
        await session.commit()
    first, second = await _twice(
        skipping_env, sessions, provider_settings, BatchJobInput(job="inventory-shortage-check")
    )
    assert (first.changed, second.changed) == (1, 0)  # the second run the same morning: nothing again
    assert sorted(user for user, _ in await _told(sessions, rows[0].id)) == sorted(
        [daily_users["ana"], daily_users["pia"]]
    )
    assert [await _told(sessions, row.id) for row in rows[1:]] == [[], [], []]
