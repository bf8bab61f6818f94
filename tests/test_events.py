"""The event outbox on the real PostgreSQL (issue 33): an event exists exactly when its change committed,
and a reader that follows the feed's cursor sees every committed event once, in commit-safe order, however
the writers' transactions interleave, commit, roll back or die (random sequences, seeded)."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from activities.notifications import NotificationActivities
from db import events
from db.engine import SessionFactory
from db.models import EventRecord
from domain.events import InvoicePayload
from tests.factories import make_business
from tests.peers import ProviderPeer, SmtpPeer

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


async def _read_until(
    sessions: SessionFactory, business_id: int, after: events.Position | None, count: int
) -> tuple[list[int], events.Position | None]:
    """Follow the feed until ``count`` more events came (or 30 s passed). The horizon is the oldest
    transaction running in the whole cluster: on a PostgreSQL that other test processes share, one of
    theirs can hold it back for a moment; it delays what is seen, never what is seen once."""
    seen: list[int] = []
    for _ in range(300):
        more, after = await _read_all(sessions, business_id, after)
        seen += more
        if len(seen) >= count:
            break
        await asyncio.sleep(0.1)
    return seen, after


async def _page_until(
    sessions: SessionFactory, business_id: int, types: list[str] | None, count: int
) -> list[EventRecord]:
    """The feed's first page once it holds ``count`` events (see ``_read_until`` on the horizon)."""
    for _ in range(300):
        async with sessions() as session:
            rows = await events.page(session, business_id, None, types, 50)
        if len(rows) >= count:
            return rows
        await asyncio.sleep(0.1)
    return rows


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
    more, _ = await _read_until(sessions, business.id, cursor, 2)
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
        expected = sorted(e for made in committed for e in made)
        more, cursor = await _read_until(sessions, business.id, cursor, len(expected) - len(seen))
        seen += more
        assert sorted(seen) == expected, seed
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
    rows = await _page_until(sessions, business.id, ["fee.applied"], 1)
    assert [(r.type, r.entity_id, r.payload["amount_cents"], r.payload["status"]) for r in rows] == [
        ("fee.applied", appointment.id, 2500, "pending")
    ]


async def test_each_message_outcome_is_one_event_in_the_logs_transaction(
    sessions: SessionFactory, notifier: NotificationActivities, peers: tuple[SmtpPeer, ProviderPeer]
) -> None:
    """A reminder sent (and sent again: the key dedupes, no second event), a message for a cancelled
    appointment suppressed, one whose every channel fails failed, on each channel it failed on."""
    from sqlalchemy import update

    from db.models import Appointment, Customer
    from domain.notification_types import NotificationRequest
    from domain.statuses import AppointmentStatus
    from tests.factories import make_appointment, make_customer

    _, provider = peers
    business = await make_business(sessions)
    customer = await make_customer(sessions, business, channel_order=["email"])
    sent_for = await make_appointment(sessions, business, customer)
    cancelled = await make_appointment(sessions, business, customer, status=AppointmentStatus.CANCELLED)

    def reminder(appointment: Appointment) -> NotificationRequest:
        return NotificationRequest(
            business_id=business.id,
            entity_type="appointment",
            entity_id=appointment.id,
            event="appointment.reminder",
            variant="2h",
            customer_id=customer.id,
            scheduled_for=appointment.starts_at,
            entity_version=1,
        )

    for _ in range(2):
        assert (await notifier.deliver(reminder(sent_for), final_attempt=False)).status == "sent"
    assert (await notifier.deliver(reminder(cancelled), final_attempt=False)).status == "skipped"
    sms_only = await make_customer(sessions, business, phone="+4915100000009", channel_order=["sms"])
    async with sessions() as session, session.begin():
        await session.execute(update(Customer).where(Customer.id == sms_only.id).values(sms_opted_in=True))
    failing = await make_appointment(sessions, business, sms_only)
    provider.fail_next("sms", 400)  # rejected for good
    request = reminder(failing).model_copy(update={"customer_id": sms_only.id})
    assert (await notifier.deliver(request, final_attempt=True)).status == "failed"

    rows = await _page_until(sessions, business.id, None, 3)
    outcomes = [(r.type, r.payload["about"], r.payload["channel"], r.payload["reason"]) for r in rows]
    assert outcomes == [
        ("notification.sent", f"appointment:{sent_for.id}", "email", None),
        ("notification.suppressed", f"appointment:{cancelled.id}", None, "cancelled"),
        ("notification.failed", f"appointment:{failing.id}", "sms", "provider_rejected"),
    ]
    assert all("Mia" not in str(r.payload) and "+49151" not in str(r.payload) for r in rows)


async def test_a_review_request_sent_is_also_review_requested_once(
    sessions: SessionFactory, notifier: NotificationActivities, peers: tuple[SmtpPeer, ProviderPeer]
) -> None:
    """The message's ``notification.sent`` and, in the same transaction, ``review.requested`` on the
    appointment (ordered with its ``appointment.completed``); a resend with the key makes neither again."""
    from domain.notification_types import NotificationRequest
    from domain.statuses import AppointmentStatus
    from tests.factories import make_appointment, make_customer

    business = await make_business(sessions)
    customer = await make_customer(sessions, business, channel_order=["email"])
    done = await make_appointment(
        sessions, business, customer, status=AppointmentStatus.COMPLETED, starts_at=NOW
    )
    request = NotificationRequest(
        business_id=business.id,
        entity_type="appointment",
        entity_id=done.id,
        event="appointment.review_request",
        customer_id=customer.id,
        entity_version=1,
    )
    for _ in range(2):
        assert (await notifier.deliver(request, final_attempt=False)).status == "sent"
    rows = await _page_until(sessions, business.id, None, 2)
    assert [(r.type, r.entity_type, r.entity_id) for r in rows] == [
        ("notification.sent", "notification", rows[0].entity_id),
        ("review.requested", "appointment", done.id),
    ]
    requested = rows[1].payload
    assert (requested["log_id"], requested["customer_id"], requested["channel"]) == (
        rows[0].entity_id,
        customer.id,
        "email",
    )
