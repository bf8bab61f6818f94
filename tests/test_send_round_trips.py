"""Round trips a send costs PostgreSQL: the notification log's writes are single statements, committed on
their own (no BEGIN/COMMIT around each), while the entity's share lock stays one real transaction."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text

from activities.notifications import NotificationActivities
from db.engine import SessionFactory, create_engine, create_session_factory, statement_session_factory
from tests.factories import make_appointment, make_business, make_customer
from tests.peers import ProviderPeer, SmtpPeer
from tests.test_notification_delivery import reminder


@pytest.fixture
def wire() -> Iterator[Counter[str]]:
    """Counts BEGIN and COMMIT as asyncpg sends them (what SQLAlchemy's transactions cost on the wire)."""
    counts: Counter[str] = Counter()
    original = asyncpg.Connection.execute

    async def counted(self: asyncpg.Connection, query: str, *args: Any, **kwargs: Any) -> str:
        word = query.strip().split(" ", 1)[0].rstrip(";").upper()
        if word in ("BEGIN", "COMMIT", "ROLLBACK"):
            counts[word] += 1
        return await original(self, query, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(asyncpg.Connection, "execute", counted)
        yield counts


async def _two_nows(sessions: SessionFactory) -> tuple[datetime, datetime]:
    async with sessions() as session:
        first = (await session.execute(text("SELECT now()"))).scalar_one()
        second = (await session.execute(text("SELECT now()"))).scalar_one()
        return first, second


async def test_statement_sessions_commit_each_statement_and_leave_the_pool_transactional(
    database_url: str,
) -> None:
    engine = create_engine(database_url, pool_size=1)  # one connection: both factories reuse it
    try:
        transactional = create_session_factory(engine)
        statements = statement_session_factory(transactional)
        # now() is the transaction's start: equal within one transaction, apart across two
        a, b = await _two_nows(statements)
        assert a != b, "each statement should be its own transaction"
        c, d = await _two_nows(transactional)
        assert c == d, "the connection went back to the pool still in autocommit"
    finally:
        await engine.dispose()


async def test_a_send_opens_one_transaction_the_entity_lock(
    notifier: NotificationActivities,
    sessions: SessionFactory,
    peers: tuple[SmtpPeer, ProviderPeer],
    wire: Counter[str],
) -> None:
    smtp, _ = peers
    business = await make_business(sessions)
    customer = await make_customer(sessions, business, channel_order=["email"])
    first, second = [
        await make_appointment(sessions, business, customer, starts_at=datetime(2031, 3, day, 13, tzinfo=UTC))
        for day in (14, 15)
    ]
    await notifier.deliver(reminder(first), final_attempt=False)  # creates the rate bucket's row, once
    wire.clear()

    result = await notifier.deliver(reminder(second), final_attempt=False)

    assert result.status == "sent" and len(smtp.messages) == 2
    # prior outcomes, claim, rate-limit token, begin attempt and outcome: five statements, no transaction
    # of their own; the share lock on the appointment is the only BEGIN ... COMMIT (was five of each)
    assert wire == Counter({"BEGIN": 1, "COMMIT": 1})
