"""The event outbox on the real PostgreSQL (issue 33): an event exists exactly when its change committed,
and a reader that follows the feed's cursor sees every committed event once, in commit-safe order, however
the writers' transactions interleave, commit, roll back or die (random sequences, seeded)."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db import events
from db.engine import SessionFactory
from db.models import EventRecord
from domain.events import InvoicePayload
from tests.factories import make_business

NOW = datetime(2031, 3, 14, 9, 0, tzinfo=UTC)


def _payload(n: int) -> InvoicePayload:
    return InvoicePayload(
        invoice_id=n,
        number=f"N-{n}",
        status="paid",
        amount_cents=100,
        currency="EUR",
        due_on=NOW.date(),
        version=1,
    )


async def _read_all(
    sessions: SessionFactory, business_id: int, after: events.Position | None
) -> tuple[list[int], events.Position | None]:
    """Follow the feed from ``after`` to its current end, as a poller does."""
    seen: list[int] = []
    while True:
        async with sessions() as session:
            rows = await events.page(session, business_id, after, None, 3)
        if not rows:
            return seen, after
        seen += [row.entity_id for row in rows]
        after = events.Position(rows[-1].txid, rows[-1].id)


async def test_a_reader_never_passes_an_event_whose_transaction_commits_later(
    sessions: SessionFactory,
) -> None:
    business = await make_business(sessions)
    early, late = sessions(), sessions()
    await early.begin()
    events.record(early, business.id, "invoice.paid", ("invoice", 1), NOW, _payload(1))
    await early.flush()  # the early transaction holds the smaller id, and is still open
    async with late.begin():
        events.record(late, business.id, "invoice.paid", ("invoice", 2), NOW, _payload(2))
    seen, cursor = await _read_all(sessions, business.id, None)
    assert seen == []  # 2 is committed, but 1 (older, still open) could still land before it
    await early.commit()
    await early.close()
    await late.close()
    more, _ = await _read_all(sessions, business.id, cursor)
    assert more == [1, 2]


async def test_a_rolled_back_change_leaves_no_event(sessions: SessionFactory) -> None:
    business = await make_business(sessions)
    async with sessions() as session:
        await session.begin()
        events.record(session, business.id, "invoice.paid", ("invoice", 1), NOW, _payload(1))
        await session.flush()
        await session.rollback()
    async with sessions() as session:
        assert (await session.scalars(select(EventRecord))).all() == []


async def test_random_interleavings_lose_and_repeat_nothing(sessions: SessionFactory) -> None:
    """40 seeded sequences: up to four writers open transactions, record events, commit, roll back or die
    (the connection is closed without a commit) in random order, while a reader follows the cursor between
    any two steps. At the end the reader has seen each committed event exactly once and nothing else, and
    each writer's events in the order it made them."""
    for seed in range(40):
        business = await make_business(sessions)  # a feed of its own
        rng = random.Random(seed)
        writers: list[tuple[AsyncSession, list[int]]] = []
        committed: list[list[int]] = []
        seen: list[int] = []
        cursor: events.Position | None = None
        next_entity = seed * 1000
        for _ in range(30):
            step = rng.choice(["open", "write", "write", "end", "read"])
            if step == "open" and len(writers) < 4:
                session = sessions()
                await session.begin()
                writers.append((session, []))
            elif step == "write" and writers:
                session, made = rng.choice(writers)
                next_entity += 1
                events.record(
                    session, business.id, "invoice.paid", ("invoice", next_entity), NOW, _payload(1)
                )
                await session.flush()
                made.append(next_entity)
            elif step == "end" and writers:
                session, made = writers.pop(rng.randrange(len(writers)))
                outcome = rng.choice(["commit", "commit", "rollback", "die"])
                if outcome == "commit":
                    await session.commit()
                    committed.append(made)
                elif outcome == "rollback":
                    await session.rollback()
                await session.close()  # "die": closed without a commit, as a killed worker's connection
            else:
                more, cursor = await _read_all(sessions, business.id, cursor)
                seen += more
        for session, made in writers:
            await session.commit()
            await session.close()
            committed.append(made)
        more, cursor = await _read_all(sessions, business.id, cursor)
        seen += more
        assert sorted(seen) == sorted(e for made in committed for e in made), seed
        assert len(seen) == len(set(seen)), seed
        for made in committed:
            assert [e for e in seen if e in made] == made, seed  # one writer's events in its order


async def test_a_no_show_fee_is_one_event_however_often_it_is_charged(sessions: SessionFactory) -> None:
    from db.appointments import charge_no_show
    from tests.factories import make_appointment, make_customer

    business = await make_business(sessions)
    customer = await make_customer(sessions, business)
    appointment = await make_appointment(sessions, business, customer, starts_at=NOW)
    for _ in range(2):  # a retried activity charges again
        async with sessions() as session, session.begin():
            await charge_no_show(session, appointment, 2500, 0)
    async with sessions() as session:
        rows = await events.page(session, business.id, None, ["fee.applied"], 10)
    assert [(r.type, r.entity_id, r.payload["amount_cents"], r.payload["status"]) for r in rows] == [
        ("fee.applied", appointment.id, 2500, "pending")
    ]
