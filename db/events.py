"""The event outbox: ``record`` inside the transaction of a change, ``page`` for the feed.

Why the feed's order is ``(txid, id)`` and not ``id``: ids are handed out when a row is inserted, but
transactions commit in another order. A reader at id 10 while the transaction holding id 9 is still open
would move its cursor past 9, and never see it. Each row records its transaction's id instead
(``pg_current_xact_id()``), and a page holds only rows of transactions older than the oldest one still
running (``pg_snapshot_xmin(pg_current_snapshot())``, PostgreSQL 13+). Every such transaction has ended, so
no row can later appear before the page's last position. A long transaction delays the feed; it never
makes the feed lose a row.

Per entity, the events come in the order of their changes: each change takes the entity's row lock as its
transaction's first write (``SELECT ... FOR UPDATE`` gives the transaction its id when it takes the lock,
or an insert does), so a later change of the same entity has a larger transaction id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import EventRecord, NotificationLog
from domain.events import Event, NotificationPayload, Payload, ReviewRequestPayload, event_id, payload_of

# The message whose going out is also ``review.requested`` (domain.notification_events).
REVIEW_REQUEST_EVENT = "appointment.review_request"

_OLDEST_RUNNING = text("(pg_snapshot_xmin(pg_current_snapshot())::text)::bigint")


@dataclass(frozen=True)
class Position:
    """Where a reader is in a business's feed: the last event's transaction id and row id."""

    txid: int
    id: int


def record(
    session: AsyncSession,
    business_id: int,
    event_type: str,
    entity: tuple[str, int],
    occurred_at: datetime,
    payload: Payload,
) -> EventRecord:
    """Add the event to the caller's transaction (it commits or rolls back with the change)."""
    entity_type, entity_id = entity
    row = EventRecord(
        business_id=business_id,
        type=event_type,
        entity_type=entity_type,
        entity_id=entity_id,
        occurred_at=occurred_at,
        payload=payload_of(event_type, payload),
    )
    session.add(row)
    return row


async def page(
    session: AsyncSession,
    business_id: int,
    after: Position | None,
    types: list[str] | None,
    limit: int,
) -> list[EventRecord]:
    """Up to ``limit`` of the business's committed events after ``after``, in feed order (``types``: only
    these)."""
    query = select(EventRecord).where(
        EventRecord.business_id == business_id, EventRecord.txid < _OLDEST_RUNNING
    )
    if after is not None:
        query = query.where(tuple_(EventRecord.txid, EventRecord.id) > tuple_(after.txid, after.id))
    if types:
        query = query.where(EventRecord.type.in_(types))
    rows = await session.scalars(query.order_by(EventRecord.txid, EventRecord.id).limit(limit))
    return list(rows)


def record_notification(session: AsyncSession, row: NotificationLog, event_type: str) -> None:
    """The event of a message's logged outcome (sent, delivered, failed, suppressed), in its transaction."""
    payload = NotificationPayload(
        log_id=row.id,
        message_key=row.message_key,
        about=f"{row.entity_type}:{row.entity_id}",
        event=row.event,
        customer_id=row.customer_id,
        channel=row.channel.value if row.channel is not None else None,
        provider=row.provider,
        status=row.status.value,
        reason=row.reason,
        scheduled_for=row.scheduled_for,
    )
    now = datetime.now(UTC)
    record(session, row.business_id, event_type, ("notification", row.id), now, payload)
    if event_type == "notification.sent" and row.event == REVIEW_REQUEST_EVENT:
        request = ReviewRequestPayload(
            appointment_id=row.entity_id,
            customer_id=row.customer_id,
            log_id=row.id,
            channel=payload.channel,
            requested_at=now,
        )
        record(session, row.business_id, "review.requested", ("appointment", row.entity_id), now, request)


def as_event(row: EventRecord) -> Event:
    """The event as the feed serves it and a webhook carries it."""
    return Event(
        id=event_id(row.id),
        type=row.type,
        occurred_at=row.occurred_at,
        entity=f"{row.entity_type}:{row.entity_id}",
        data=row.payload,
    )
