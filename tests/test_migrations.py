"""Migrations apply from empty, match the models, and downgrade cleanly."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from db.embedded import drop_database, ensure_database
from db.engine import create_engine
from db.migrate import downgrade_async, upgrade_async
from db.models import Base
from tests.support import database_url_named

EXPECTED_TABLES = {
    "webhook_endpoints",
    "webhook_deliveries",
    "webhook_attempts",
    "events",
    "project_members",
    "weather_snapshots",
    "weather_runs",
    "staff_users",
    "invoices",
    "in_app_notifications",
    "projects",
    "daily_plans",
    "inventory_items",
    "inventory_movements",
    "touch_ups",
    "employees",
    "time_entries",
    "payroll_periods",
    "payroll_recalculations",
    "businesses",
    "customers",
    "appointments",
    "notification_log",
    "health_check_runs",
    "api_keys",
    "template_overrides",
    "rate_buckets",
    "broadcasts",
    "broadcast_recipients",
    "appointment_fees",
    "reviews",
    "idempotent_requests",
    "pets",
    "vaccinations",
    "policies",
    "calls",
    "call_scheduler_configs",
    "chat_rooms",
    "platform_daily_stats",
    "business_stats",
}


@pytest.fixture
async def empty_database(postgres_server_url: str) -> AsyncIterator[str]:
    url = database_url_named(postgres_server_url, f"keeptime_migrations_{os.getpid()}")
    await drop_database(url)
    await ensure_database(url)
    yield url
    await drop_database(url)


async def _tables(url: str) -> set[str]:
    engine = create_engine(url, pool_size=1)
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    await engine.dispose()
    return names - {"alembic_version"}


async def _schema_diff(url: str) -> list[object]:
    def compare(sync: Connection) -> list[object]:
        return list(
            compare_metadata(MigrationContext.configure(sync, opts={"compare_type": True}), Base.metadata)
        )

    engine = create_engine(url, pool_size=1)
    async with engine.connect() as conn:
        diff = await conn.run_sync(compare)
    await engine.dispose()
    return diff


async def test_upgrade_from_empty_creates_the_schema_the_models_describe(empty_database: str) -> None:
    assert await _tables(empty_database) == set()
    await upgrade_async(empty_database)
    assert await _tables(empty_database) == EXPECTED_TABLES
    assert await _schema_diff(empty_database) == []


async def test_downgrade_to_base_removes_everything_and_upgrade_again_works(empty_database: str) -> None:
    await upgrade_async(empty_database)
    await downgrade_async(empty_database)
    assert await _tables(empty_database) == set()
    await upgrade_async(empty_database)
    assert await _tables(empty_database) == EXPECTED_TABLES
