"""What one booking costs PostgreSQL, counted on the wire's driver (db.engine.count_database_work), so a
change that adds a round trip to every booking fails here rather than only in bench.bookings."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from db import appointments as store
from db.engine import SessionFactory, count_database_work, create_engine, create_session_factory
from tests.factories import make_business, make_customer


@pytest.fixture
async def counted(database_url: str) -> AsyncIterator[tuple[SessionFactory, Counter[str]]]:
    """Sessions on an engine of their own whose statements, transactions and checkouts are counted."""
    engine = create_engine(database_url, pool_size=1)
    work: Counter[str] = Counter()
    count_database_work(engine, lambda kind: work.update([kind]))
    try:
        yield create_session_factory(engine), work
    finally:
        await engine.dispose()


def booking(customer_id: int) -> dict[str, object]:
    starts_at = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    return {"customer_id": customer_id, "starts_at": starts_at, "ends_at": starts_at + timedelta(hours=1)}


async def test_a_keyed_booking_is_one_transaction_of_three_statements(
    sessions: SessionFactory, counted: tuple[SessionFactory, Counter[str]]
) -> None:
    """The key's earlier use is read by the statement that reads the business and checks the customer;
    then the insert and the key's claim. A repeat answers from that first statement's find."""
    business = await make_business(sessions)
    customer = await make_customer(sessions, business)
    counted_sessions, work = counted
    values = booking(customer.id)

    async with counted_sessions() as session:
        made = await store.book(
            session, business.id, values, idempotency_key="k-1", body_hash=store.request_hash(values)
        )
    first = dict(work)
    work.clear()
    async with counted_sessions() as session:
        again = await store.book(
            session, business.id, values, idempotency_key="k-1", body_hash=store.request_hash(values)
        )

    assert made.created and not again.created
    assert again.appointment.id == made.appointment.id
    assert (first["statement"], first["transaction"], first["checkout"]) == (3, 1, 1)
    # the repeat: the same first statement, the earlier appointment, its snapshot's review check
    assert (work["statement"], work["transaction"]) == (3, 1)


async def test_a_booking_without_a_key_is_two_statements(
    sessions: SessionFactory, counted: tuple[SessionFactory, Counter[str]]
) -> None:
    business = await make_business(sessions)
    customer = await make_customer(sessions, business)
    counted_sessions, work = counted
    values = booking(customer.id)

    async with counted_sessions() as session:
        made = await store.book(session, business.id, values, idempotency_key=None, body_hash="")

    assert made.created
    assert (work["statement"], work["transaction"]) == (2, 1)


async def test_an_unknown_customer_is_refused_after_one_statement(
    sessions: SessionFactory, counted: tuple[SessionFactory, Counter[str]]
) -> None:
    business = await make_business(sessions)
    other = await make_business(sessions)
    stranger = await make_customer(sessions, other)
    counted_sessions, work = counted
    values = booking(stranger.id)

    async with counted_sessions() as session:
        with pytest.raises(store.BookingConflict) as refused:
            await store.book(session, business.id, values, idempotency_key="k-2", body_hash="h")

    assert refused.value.field == "customer_id"
    assert work["statement"] == 1
