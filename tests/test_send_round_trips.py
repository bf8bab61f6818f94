"""Round trips a send costs PostgreSQL: the notification log's writes are single statements, committed on
their own (no BEGIN/COMMIT around each), while the entity's share lock stays one real transaction."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from sqlalchemy import Engine, event, select, text

from activities.notifications import NotificationActivities
from db.engine import SessionFactory, create_engine, create_session_factory, statement_session_factory
from db.models import Appointment, Business, NotificationLog, TemplateOverride
from tests.factories import make_appointment, make_business, make_customer
from tests.peers import ProviderPeer, SmtpPeer
from tests.test_notification_delivery import parts, reminder


@pytest.fixture
def wire() -> Iterator[Counter[str]]:
    """Counts BEGIN and COMMIT as asyncpg sends them (what SQLAlchemy's transactions cost on the wire), and
    every other statement SQLAlchemy executes ("statement"): each is one round trip."""
    counts: Counter[str] = Counter()
    original = asyncpg.Connection.execute

    def statement(*_: object) -> None:
        counts["statement"] += 1

    async def counted(self: asyncpg.Connection, query: str, *args: Any, **kwargs: Any) -> str:
        word = query.strip().split(" ", 1)[0].rstrip(";").upper()
        if word in ("BEGIN", "COMMIT", "ROLLBACK"):
            counts[word] += 1
        return await original(self, query, *args, **kwargs)

    event.listen(Engine, "before_cursor_execute", statement)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(asyncpg.Connection, "execute", counted)
            yield counts
    finally:
        event.remove(Engine, "before_cursor_execute", statement)


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
    # of their own; the share lock on the appointment is the only BEGIN ... COMMIT (was five of each), and
    # its one statement reads the appointment, the business, the customer and the template overrides
    # (was four statements); the seventh is the outcome's notification.sent event, written with it (the
    # outbox, issue 33: docs/events.md)
    assert wire == Counter({"BEGIN": 1, "COMMIT": 1, "statement": 7})


async def _override(sessions: SessionFactory, business_id: int, event: str, part: str, body: str) -> None:
    async with sessions() as session, session.begin():
        session.add(
            TemplateOverride(business_id=business_id, event=event, channel="email", part=part, body=body)
        )


async def _booking_beside_another_business(
    sessions: SessionFactory,
) -> tuple[Business, Business, Appointment]:
    """A business with an e-mail customer's appointment, and another business next to it."""
    business, other = await make_business(sessions), await make_business(sessions)
    customer = await make_customer(sessions, business, channel_order=["email"])
    return business, other, await make_appointment(sessions, business, customer)


async def test_the_one_context_statement_reads_this_business_and_events_overrides_only(
    notifier: NotificationActivities, sessions: SessionFactory, peers: tuple[SmtpPeer, ProviderPeer]
) -> None:
    smtp, _ = peers
    business, other, appointment = await _booking_beside_another_business(sessions)
    await _override(
        sessions, business.id, "appointment.reminder", "subject", "See you, {{ customer.first_name }}"
    )
    await _override(sessions, business.id, "appointment.reminder", "text", "Soon: {{ appointment.service }}")
    await _override(sessions, business.id, "appointment.confirmation", "html", "<p>another event</p>")
    await _override(sessions, other.id, "appointment.reminder", "html", "<p>another business</p>")

    result = await notifier.deliver(reminder(appointment), final_attempt=False)

    assert result.status == "sent"
    [message] = smtp.messages
    assert message["Subject"] == "See you, Ada"
    body = parts(message)
    override, footer = [line for line in body["text/plain"].splitlines() if line.strip()]
    assert override == "Soon: Haircut"  # the override, then the unsubscribe footer no override can drop
    assert footer.startswith("Don't want these e-mails from") and "/v1/unsubscribe/" in footer
    assert "another" not in body["text/html"]


async def test_a_customer_of_another_business_or_one_who_is_gone_gets_nothing_logged(
    notifier: NotificationActivities, sessions: SessionFactory, peers: tuple[SmtpPeer, ProviderPeer]
) -> None:
    smtp, _ = peers
    _, other, appointment = await _booking_beside_another_business(sessions)
    stranger = await make_customer(sessions, other, channel_order=["email"])

    foreign = await notifier.deliver(reminder(appointment, customer_id=stranger.id), final_attempt=False)
    missing = await notifier.deliver(
        reminder(appointment, customer_id=stranger.id + 1000, variant="2h"), final_attempt=False
    )

    assert (foreign.status, foreign.reason) == ("skipped", "no_channel")
    assert (missing.status, missing.reason) == ("skipped", "no_channel")
    assert smtp.messages == []
    async with sessions() as session:
        rows = (await session.execute(select(NotificationLog).order_by(NotificationLog.id))).scalars().all()
    # both logged where an operator looks; the one whose customer is gone without a foreign key to break
    assert [(row.customer_id, row.recipient, row.reason) for row in rows] == [
        (stranger.id, f"customer:{stranger.id}", "no_channel"),
        (None, f"customer:{stranger.id + 1000}", "no_channel"),
    ]
