"""Read and update the notification log for the API: timelines, delivery receipts, overrides, broadcasts."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import and_, case, delete, insert, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from db import events
from db.models import Broadcast, BroadcastRecipient, Customer, NotificationLog, TemplateOverride
from domain.statuses import FINAL_RECEIPTS, NO_FALLBACK, NotificationStatus


async def timeline(
    session: AsyncSession,
    business_id: int,
    *,
    entity_type: str | None = None,
    entity_id: int | None = None,
    status: str | None = None,
    customer_id: int | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[NotificationLog]:
    """Newest first, tenant-scoped; keyset-paginated by id."""
    query = select(NotificationLog).where(NotificationLog.business_id == business_id)
    if entity_type is not None:
        query = query.where(NotificationLog.entity_type == entity_type)
    if entity_id is not None:
        query = query.where(NotificationLog.entity_id == entity_id)
    if status is not None:
        query = query.where(NotificationLog.status == NotificationStatus(status))
    if customer_id is not None:
        query = query.where(NotificationLog.customer_id == customer_id)
    if before_id is not None:
        query = query.where(NotificationLog.id < before_id)
    return list((await session.execute(query.order_by(NotificationLog.id.desc()).limit(limit))).scalars())


async def record_provider_id(
    session: AsyncSession, log_id: int, provider: str, provider_message_id: str, receipt_status: str
) -> bool:
    """A receipt names the provider's id of our message and its status: remember both on the row its URL
    names, also while an attempt's answer is lost (the next attempt decides by them: only a sent or
    delivered status confirms it went out). A final status is not replaced by an intermediate one that
    arrives after it."""
    current = NotificationLog.receipt_status
    result = await session.execute(
        update(NotificationLog)
        .where(
            NotificationLog.id == log_id,
            NotificationLog.provider == provider,
            or_(
                NotificationLog.provider_message_id.is_(None),
                NotificationLog.provider_message_id == provider_message_id,
            ),
        )
        .values(
            provider_message_id=provider_message_id,
            receipt_status=case(
                (current.in_(sorted(FINAL_RECEIPTS)), current),
                else_=literal(receipt_status),  # MessageStatus: at most 32 characters (api.schemas)
            ),
        )
    )
    await session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def apply_receipt(
    session: AsyncSession, provider: str, provider_message_id: str, delivered: bool, error: str | None
) -> bool:
    """``sent`` -> ``delivered``/``failed`` for a provider's status callback; False when no such message.
    A message that was not resent because its outcome was unknown is settled by its receipt too."""
    now = datetime.now(UTC)
    values: dict[str, object] = (
        {"status": NotificationStatus.DELIVERED, "delivered_at": now}
        if delivered
        else {"status": NotificationStatus.FAILED, "error": error or "undelivered", "reason": "undelivered"}
    )
    matching = (
        NotificationLog.provider == provider,
        NotificationLog.provider_message_id == provider_message_id,
        or_(
            NotificationLog.status.in_([NotificationStatus.SENT, NotificationStatus.DELIVERED]),
            and_(
                NotificationLog.status == NotificationStatus.FAILED,
                NotificationLog.reason.in_(sorted(NO_FALLBACK)),
            ),
        ),
    )
    # Locked first, so each receipt that changes a row's status is one event (a repeated receipt none).
    before = {
        row_id: status
        for row_id, status in (
            await session.execute(
                select(NotificationLog.id, NotificationLog.status).where(*matching).with_for_update()
            )
        ).all()
    }
    changed = await session.execute(
        update(NotificationLog).where(*matching).values(**values).returning(NotificationLog)
    )
    for row in changed.scalars():
        if before.get(row.id) != row.status:
            events.record_notification(
                session, row, "notification.delivered" if delivered else "notification.failed"
            )
    await session.commit()
    return bool(before)


async def put_override(
    session: AsyncSession, business_id: int, event: str, channel: str, part: str, body: str
) -> None:
    await session.execute(
        pg_insert(TemplateOverride)
        .values(business_id=business_id, event=event, channel=channel, part=part, body=body)
        .on_conflict_do_update(
            index_elements=["business_id", "event", "channel", "part"],
            set_={"body": body, "updated_at": datetime.now(UTC)},
        )
    )
    await session.commit()


async def list_overrides(session: AsyncSession, business_id: int) -> list[TemplateOverride]:
    query = (
        select(TemplateOverride)
        .where(TemplateOverride.business_id == business_id)
        .order_by(TemplateOverride.id)
    )
    return list((await session.execute(query)).scalars())


async def delete_override(
    session: AsyncSession, business_id: int, event: str, channel: str, part: str
) -> bool:
    result = await session.execute(
        delete(TemplateOverride).where(
            TemplateOverride.business_id == business_id,
            TemplateOverride.event == event,
            TemplateOverride.channel == channel,
            TemplateOverride.part == part,
        )
    )
    await session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def create_broadcast(
    session: AsyncSession, business_id: int, subject: str, body: str, customer_ids: list[int] | None
) -> Broadcast:
    """A broadcast and its recipients (the given customers of this business, or all of them)."""
    broadcast = Broadcast(business_id=business_id, subject=subject, body=body, recipient_count=0)
    session.add(broadcast)
    await session.flush()
    recipients = select(literal(broadcast.id), Customer.id).where(Customer.business_id == business_id)
    if customer_ids is not None:
        recipients = recipients.where(Customer.id.in_(customer_ids))
    result = await session.execute(
        insert(BroadcastRecipient).from_select(["broadcast_id", "customer_id"], recipients)
    )
    broadcast.recipient_count = int(result.rowcount or 0)  # type: ignore[attr-defined]
    await session.commit()
    return broadcast


async def broadcast_of(session: AsyncSession, business_id: int, broadcast_id: int) -> Broadcast | None:
    broadcast = await session.get(Broadcast, broadcast_id)
    return broadcast if broadcast is not None and broadcast.business_id == business_id else None
