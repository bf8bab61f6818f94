"""The notification log: claim an idempotency key before sending, and record every outcome."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, literal, select, update
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.events import record_notification
from db.models import Customer, NotificationLog
from domain.notification_types import NotificationRequest, NotificationResult
from domain.statuses import OUTCOME_UNKNOWN, Channel, NotificationStatus

FINAL = (NotificationStatus.SENT, NotificationStatus.DELIVERED, NotificationStatus.SKIPPED)


def result_of(row: NotificationLog) -> NotificationResult:
    status = "sent" if row.status == NotificationStatus.DELIVERED else row.status.value
    return NotificationResult(
        status=status if status != "queued" else "failed",
        message_key=row.message_key,
        channel=row.channel.value if row.channel else None,
        provider=row.provider,
        provider_message_id=row.provider_message_id,
        reason=row.reason,
    )


async def final_outcome(session: AsyncSession, message_key: str) -> NotificationLog | None:
    """A row that settles this message (sent, delivered or skipped), if one exists."""
    query = select(NotificationLog).where(
        NotificationLog.message_key == message_key, NotificationLog.status.in_(FINAL)
    )
    return (await session.execute(query.limit(1))).scalar_one_or_none()


async def prior_outcomes(session: AsyncSession, message_key: str) -> tuple[NotificationLog | None, set[str]]:
    """In one query: a row that settles this message (as ``final_outcome``), else the channels on which it
    already failed (the next attempt tries the others)."""
    query = select(NotificationLog).where(
        NotificationLog.message_key == message_key,
        NotificationLog.status.in_([*FINAL, NotificationStatus.FAILED]),
    )
    rows = list((await session.execute(query)).scalars())
    settled = next((row for row in rows if row.status in FINAL), None)
    return settled, {
        row.channel.value
        for row in rows
        if row.channel is not None and row.status == NotificationStatus.FAILED
    }


def _row_values(request: NotificationRequest, business_id: int) -> dict[str, object]:
    """A log row's columns from its request. The customer's id only while the customer exists (the column's
    foreign key; a log row outlives its customer as NULL, ``ondelete="SET NULL"``): a request that names a
    customer who is gone is still logged, with the recipient text naming who it was."""
    customer_id = (
        select(Customer.id).where(Customer.id == request.customer_id).scalar_subquery()
        if request.customer_id is not None
        else None
    )
    return {
        "message_key": request.message_key(),
        "business_id": business_id,
        "customer_id": customer_id,
        "recipient": request.recipient,
        "entity_type": request.entity_type,
        "entity_id": request.entity_id,
        "event": request.event_name,
        "scheduled_for": request.scheduled_for,
    }


async def claim(
    session: AsyncSession, request: NotificationRequest, channel: str, provider: str
) -> NotificationLog:
    """Insert the (message, channel) row, or take the existing one; count this attempt. One statement
    (``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``, atomic under concurrent claims). Commits."""
    key = request.idempotency_key(channel)
    statement = insert(NotificationLog).values(
        idempotency_key=key,
        channel=Channel(channel),
        provider=provider,
        status=NotificationStatus.QUEUED,
        attempts=1,
        request=request.model_dump(mode="json"),
        **_row_values(request, request.business_id),
    )
    row = (
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=[NotificationLog.idempotency_key],
                set_={"attempts": NotificationLog.attempts + 1, "updated_at": func.now()},
            ).returning(NotificationLog),
            execution_options={"populate_existing": True},
        )
    ).scalar_one()
    await session.commit()
    return row


async def begin_attempt(
    session: AsyncSession,
    row_id: int,
    seen_in_flight: datetime | None,
    rendered: dict[str, Any] | None = None,
) -> bool:
    """Committed before the provider is called: if no answer is recorded, the next attempt knows this one
    may have reached the provider (``in_flight_since``).

    A compare-and-set on the ``in_flight_since`` this attempt saw when it claimed the row: of two attempts
    that overlap (a heartbeat timeout passed while the first still ran, Temporal started a retry on another
    worker), only one may call the provider; the other gets False and must not send. ``rendered``: the
    message as this first attempt rendered it, stored with the claim (a row keeps the first one it got)."""
    values: dict[str, Any] = {"in_flight_since": func.now()}
    if rendered is not None:
        values["rendered"] = func.coalesce(NotificationLog.rendered, literal(rendered, type_=JSONB))
    result = await session.execute(
        update(NotificationLog)
        .where(
            NotificationLog.id == row_id,
            NotificationLog.in_flight_since.is_not_distinct_from(seen_in_flight),
            NotificationLog.status.not_in([NotificationStatus.SENT, NotificationStatus.DELIVERED]),
        )
        .values(**values)
    )
    await session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def reread(session: AsyncSession, row_id: int) -> NotificationLog:
    """The row as committed now (a status callback may have written to it meanwhile)."""
    row = (
        await session.execute(
            select(NotificationLog)
            .where(NotificationLog.id == row_id)
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    return row


async def set_resolution(session: AsyncSession, row_id: int, resolution: str) -> None:
    await session.execute(
        update(NotificationLog).where(NotificationLog.id == row_id).values(resolution=resolution[:160])
    )
    await session.commit()


async def mark_sent(
    session: AsyncSession, row_id: int, provider_message_id: str, *, resolution: str | None = None
) -> NotificationLog:
    extra = {"resolution": resolution} if resolution else {}
    row = (
        await session.execute(
            update(NotificationLog)
            .where(NotificationLog.id == row_id)
            .values(
                status=NotificationStatus.SENT,
                provider_message_id=provider_message_id,
                sent_at=datetime.now(UTC),
                error=None,
                reason=None,
                in_flight_since=None,
                **extra,
            )
            .returning(NotificationLog)
        )
    ).scalar_one()
    record_notification(session, row, "notification.sent")
    await session.commit()
    return row


async def mark_failed(
    session: AsyncSession,
    row_id: int,
    error: str,
    reason: str,
    *,
    ambiguous: bool = False,
    resolution: str | None = None,
) -> None:
    """``ambiguous``: the last attempt's outcome is still unknown (kept for whoever tries again)."""
    values: dict[str, object] = {"status": NotificationStatus.FAILED, "error": error[:2000], "reason": reason}
    if not ambiguous:
        values["in_flight_since"] = None
    if resolution:
        values["resolution"] = resolution[:160]
    row = (
        await session.execute(
            update(NotificationLog)
            .where(NotificationLog.id == row_id)
            .values(**values)
            .returning(NotificationLog)
        )
    ).scalar_one_or_none()
    if row is not None:
        record_notification(session, row, "notification.failed")
    await session.commit()


async def record_error(session: AsyncSession, row_id: int, error: str, *, ambiguous: bool = False) -> None:
    """A transient error: the row stays queued (to be retried) with the last error visible. ``ambiguous``:
    the request may have reached the provider, so the attempt stays in flight for the retry to resolve."""
    values: dict[str, object] = {"error": error[:2000]}
    if not ambiguous:
        values["in_flight_since"] = None
    await session.execute(update(NotificationLog).where(NotificationLog.id == row_id).values(**values))
    await session.commit()


async def record_skip(
    session: AsyncSession,
    request: NotificationRequest,
    reason: str,
    *,
    failed: bool = False,
    detail: str | None = None,
) -> NotificationResult:
    """Record that the message will not go out (``failed``: a step that could not be done; ``detail``: what
    an operator should know), once (a replayed record returns the first one)."""
    key = f"{request.message_key()}:-"
    inserted = await session.execute(
        insert(NotificationLog)
        .values(
            idempotency_key=key,
            channel=None,
            status=NotificationStatus.FAILED if failed else NotificationStatus.SKIPPED,
            reason=reason[:64],
            error=detail[:2000] if detail else None,
            **_row_values(request, request.business_id),
        )
        .on_conflict_do_nothing(index_elements=[NotificationLog.idempotency_key])
        .returning(NotificationLog)
    )
    made = inserted.scalar_one_or_none()
    if made is not None:  # the first record of it (a replayed one makes no second event)
        record_notification(session, made, "notification.failed" if failed else "notification.suppressed")
    await session.commit()
    row = (
        await session.execute(select(NotificationLog).where(NotificationLog.idempotency_key == key))
    ).scalar_one()
    return result_of(row)


async def reopen_failed(session: AsyncSession, row_id: int) -> bool:
    """Turn a failed row back to queued for one more try; False if someone else took it first. Commits."""
    result = await session.execute(
        update(NotificationLog)
        .where(NotificationLog.id == row_id, NotificationLog.status == NotificationStatus.FAILED)
        .values(status=NotificationStatus.QUEUED, reason=None)
        .returning(NotificationLog.id)
    )
    await session.commit()
    return result.scalar_one_or_none() is not None


async def fail_if_still_queued(session: AsyncSession, row_id: int, error: str, reason: str) -> None:
    """After a retry that did not reach this row's channel (settled elsewhere, stale, too late)."""
    failed = await session.execute(
        update(NotificationLog)
        .where(NotificationLog.id == row_id, NotificationLog.status == NotificationStatus.QUEUED)
        .values(status=NotificationStatus.FAILED, error=error[:2000], reason=reason)
        .returning(NotificationLog)
    )
    for row in failed.scalars():
        record_notification(session, row, "notification.failed")
    await session.commit()


async def retry_candidates(
    session: AsyncSession, after: int, since: datetime, max_attempts: int, limit: int
) -> list[tuple[int, dict[str, Any], str]]:
    """(id, stored request, message key) of failed rows the retry sweep may try again, after row ``after``:
    the provider was unavailable, fewer than ``max_attempts`` attempts, created since ``since``."""
    rows = await session.execute(
        select(NotificationLog.id, NotificationLog.request, NotificationLog.message_key)
        .where(
            NotificationLog.id > after,
            NotificationLog.status == NotificationStatus.FAILED,
            NotificationLog.reason.in_(["provider_unavailable", OUTCOME_UNKNOWN]),
            NotificationLog.attempts < max_attempts,
            NotificationLog.created_at >= since,
            NotificationLog.request.is_not(None),
        )
        .order_by(NotificationLog.id)
        .limit(limit)
    )
    return [(row_id, request, key) for row_id, request, key in rows.all()]
