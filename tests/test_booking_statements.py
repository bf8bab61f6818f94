"""What one booking costs PostgreSQL, counted on the wire's driver (db.engine.count_database_work), so a
change that adds a round trip to every booking fails here rather than only in bench.bookings."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from db import appointments as store
from db.engine import SessionFactory, count_database_work, create_engine, create_session_factory
from db.models import Appointment, IdempotentRequest
from tests.factories import make_appointment, make_business, make_customer


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


async def test_a_keyed_booking_is_one_transaction_of_four_statements(
    sessions: SessionFactory, counted: tuple[SessionFactory, Counter[str]]
) -> None:
    """The key's earlier use is read by the statement that reads the business and checks the customer;
    then the insert, its ``appointment.booked`` event (the outbox, issue 33) and the key's claim. A repeat
    answers from that first statement's find."""
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
    assert (first["statement"], first["transaction"], first["checkout"]) == (4, 1, 1)
    # the repeat: the same first statement, the earlier appointment, its snapshot's review check
    assert (work["statement"], work["transaction"]) == (3, 1)


async def test_a_booking_without_a_key_is_three_statements(
    sessions: SessionFactory, counted: tuple[SessionFactory, Counter[str]]
) -> None:
    business = await make_business(sessions)
    customer = await make_customer(sessions, business)
    counted_sessions, work = counted
    values = booking(customer.id)

    async with counted_sessions() as session:
        made = await store.book(session, business.id, values, idempotency_key=None, body_hash="")

    assert made.created
    assert (work["statement"], work["transaction"]) == (3, 1)  # the facts, the insert, its event


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


async def _waiting_on_a_lock(sessions: SessionFactory) -> bool:
    async with sessions() as session:
        query = text(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return bool((await session.execute(query)).scalar())


async def test_a_booking_whose_key_another_request_is_still_claiming_answers_with_that_ones(
    sessions: SessionFactory,
) -> None:
    """The race the key's claim decides: the second request inserted its appointment before the first
    committed; its claim waits on the first's key row, claims nothing once that commits, and its own
    appointment is rolled back with it."""
    business = await make_business(sessions)
    customer = await make_customer(sessions, business)
    first = await make_appointment(sessions, business, customer)
    values = booking(customer.id)
    key_row = IdempotentRequest(
        business_id=business.id, key="k-race", request_hash=store.request_hash(values), resource_id=first.id
    )
    async with sessions() as holder, sessions() as session:
        async with holder.begin():
            holder.add(key_row)
            await holder.flush()  # the first request's key row, not yet committed
            second = asyncio.create_task(
                store.book(
                    session, business.id, values, idempotency_key="k-race", body_hash=key_row.request_hash
                )
            )
            waited = False
            for _ in range(250):  # until the second's claim waits on the first's row
                waited = await _waiting_on_a_lock(sessions)
                if waited or second.done():
                    break
                await asyncio.sleep(0.02)
            assert waited and not second.done(), "the second booking should wait on the first's key row"
        made = await second  # the first committed when its transaction block ended

    assert not made.created and made.appointment.id == first.id
    async with sessions() as session:
        count = (await session.execute(select(func.count()).select_from(Appointment))).scalar()
    assert count == 1  # the second's own insert was rolled back
