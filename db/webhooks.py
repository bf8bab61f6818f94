"""Outbound webhooks in PostgreSQL: endpoints, the relay's fan-in and due deliveries, each attempt's outcome.

The events table is the one record of what happened (db.events); a delivery row says where one event still
has to go. The relay reads each enabled endpoint's events after its cursor (the feed's commit-safe order)
and adds one delivery per matching event, moving the cursor in the same transaction, so an event is fanned
in once. A delivery is due when its time has come and no earlier delivery of the same entity to the same
endpoint is still pending: per entity, in order. Each attempt is logged; a failure waits by
``domain.webhooks.retry_delay`` and a delivery still failing 3 days after its first attempt is given up;
an endpoint with no success for 3 days is disabled, with an event and a notice to the business's admins.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from db import events, staff
from db.conflicts import FieldConflict
from db.models import EventRecord, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from domain.events import WebhookEndpointPayload
from domain.statuses import StaffRole
from domain.webhooks import DISABLE_AFTER, GIVE_UP_AFTER, ROTATION_OVERLAP, retry_delay

FAN_IN_BATCH = 500
REPLAY_MAX = 10_000


class EndpointConflict(FieldConflict):
    """Another endpoint of the business has this URL."""

    def __init__(self) -> None:
        super().__init__("url", "another endpoint of yours has this URL")


class TooManyToReplay(ValueError):
    field = "since"


@dataclass(frozen=True)
class AttemptOutcome:
    ok: bool
    status_code: int | None
    latency_ms: int
    error: str | None


# --- endpoints ------------------------------------------------------------------------------------------


async def create_endpoint(
    session: AsyncSession, business_id: int, values: dict[str, Any], secret: str, digest: str
) -> tuple[WebhookEndpoint, bool]:
    """The new endpoint, or the one this same body made before (False). Raises ``EndpointConflict`` when
    the URL is taken by another body."""
    async with session.begin():
        made = await session.scalar(
            insert(WebhookEndpoint)
            .values(business_id=business_id, secret=secret, created_from=digest, **values)
            .on_conflict_do_nothing(constraint="uq_webhook_endpoints_business_url")
            .returning(WebhookEndpoint.id)
        )
        row = await session.scalar(
            select(WebhookEndpoint).where(
                WebhookEndpoint.business_id == business_id, WebhookEndpoint.url == values["url"]
            )
        )
    assert row is not None
    if made is None and row.created_from != digest:
        raise EndpointConflict()
    return row, made is not None


async def endpoint(session: AsyncSession, business_id: int, endpoint_id: int) -> WebhookEndpoint | None:
    return await session.scalar(
        select(WebhookEndpoint).where(
            WebhookEndpoint.id == endpoint_id, WebhookEndpoint.business_id == business_id
        )
    )


async def endpoints(
    session: AsyncSession, business_id: int, after_id: int | None, limit: int
) -> list[WebhookEndpoint]:
    query = select(WebhookEndpoint).where(WebhookEndpoint.business_id == business_id)
    if after_id is not None:
        query = query.where(WebhookEndpoint.id > after_id)
    return list(await session.scalars(query.order_by(WebhookEndpoint.id).limit(limit)))


async def update_endpoint(
    session: AsyncSession, business_id: int, endpoint_id: int, changes: dict[str, Any]
) -> WebhookEndpoint | None:
    """Apply ``changes`` (url, description, event_types, enabled); enabling clears the failure record."""
    async with session.begin():
        row = await session.scalar(
            select(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.business_id == business_id)
            .with_for_update()
        )
        if row is None:
            return None
        if "url" in changes and changes["url"] != row.url:
            taken = await session.scalar(
                select(WebhookEndpoint.id).where(
                    WebhookEndpoint.business_id == business_id, WebhookEndpoint.url == changes["url"]
                )
            )
            if taken is not None:
                raise EndpointConflict()
        if changes.get("enabled") and not row.enabled:
            row.failing_since = None
            row.disabled_reason = None
        for name, value in changes.items():
            setattr(row, name, value)
        row.updated_at = func.now()
    await session.refresh(row)
    return row


async def delete_endpoint(session: AsyncSession, business_id: int, endpoint_id: int) -> bool:
    async with session.begin():
        result = await session.execute(
            delete(WebhookEndpoint).where(
                WebhookEndpoint.id == endpoint_id, WebhookEndpoint.business_id == business_id
            )
        )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def rotate_secret(
    session: AsyncSession,
    business_id: int,
    endpoint_id: int,
    new_secret: str,
    now: datetime,
    key: str | None,
) -> WebhookEndpoint | None:
    """``new_secret`` signs from now on; the current one keeps signing beside it for 24 h. A repeat with
    the last rotation's Idempotency-Key (``key``) rotates nothing and answers the same secret."""
    async with session.begin():
        row = await session.scalar(
            select(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.business_id == business_id)
            .with_for_update()
        )
        if row is None or (key is not None and row.rotation_key == key):
            return row
        row.previous_secret, row.previous_secret_expires_at = row.secret, now + ROTATION_OVERLAP
        row.secret, row.rotation_key, row.updated_at = new_secret, key, now
    return row


def secrets_in_use(row: WebhookEndpoint, now: datetime) -> list[str]:
    """The secrets an attempt is signed with: the current one, and the previous one during its 24 h."""
    expires = row.previous_secret_expires_at
    if row.previous_secret and expires is not None and now < expires:
        return [row.secret, row.previous_secret]
    return [row.secret]


# --- the relay ------------------------------------------------------------------------------------------


async def enabled_endpoints(session: AsyncSession) -> list[WebhookEndpoint]:
    return list(await session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.enabled)))


async def fan_in(session: AsyncSession, endpoint_id: int, limit: int = FAN_IN_BATCH) -> int:
    """Add a delivery for each of the endpoint's new events (the endpoint's types), move its cursor past
    them; one transaction. Returns how many events were read (``limit``: there may be more)."""
    async with session.begin():
        row = await session.scalar(
            select(WebhookEndpoint)
            # No row lock: one relay runs at a time (activities.webhooks holds an advisory lock), and the
            # transaction takes no id before its writes (it would hold back every reader's horizon).
            .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.enabled)
        )
        if row is None:
            return 0
        read = await events.page(
            session, row.business_id, events.Position(row.cursor_txid, row.cursor_id), None, limit
        )
        if not read:
            return 0
        wanted = set(row.event_types) if row.event_types else None
        values = [
            {
                "endpoint_id": row.id,
                "event_id": event.id,
                "entity_type": event.entity_type,
                "entity_id": event.entity_id,
                "txid": event.txid,
            }
            for event in read
            if wanted is None or event.type in wanted
        ]
        if values:
            await session.execute(insert(WebhookDelivery).values(values).on_conflict_do_nothing())
        row.cursor_txid, row.cursor_id = read[-1].txid, read[-1].id
    return len(read)


async def due(
    session: AsyncSession, endpoint_id: int, now: datetime, limit: int
) -> list[tuple[WebhookDelivery, EventRecord]]:
    """The endpoint's deliveries to attempt now, at most one per entity (the earliest pending one)."""
    earlier = aliased(WebhookDelivery)
    blocked = (
        select(earlier.id)
        .where(
            earlier.endpoint_id == WebhookDelivery.endpoint_id,
            earlier.entity_type == WebhookDelivery.entity_type,
            earlier.entity_id == WebhookDelivery.entity_id,
            earlier.state == "pending",
            tuple_(earlier.txid, earlier.event_id) < tuple_(WebhookDelivery.txid, WebhookDelivery.event_id),
        )
        .exists()
    )
    rows = await session.execute(
        select(WebhookDelivery, EventRecord)
        .join(EventRecord, EventRecord.id == WebhookDelivery.event_id)
        .where(
            WebhookDelivery.endpoint_id == endpoint_id,
            WebhookDelivery.state == "pending",
            WebhookDelivery.next_attempt_at <= now,
            ~blocked,
        )
        .order_by(WebhookDelivery.txid, WebhookDelivery.event_id)
        .limit(limit)
    )
    return [(delivery, event) for delivery, event in rows.all()]


@dataclass(frozen=True)
class Settled:
    state: str  # the delivery's: delivered, pending (to retry) or failed (given up)
    endpoint_disabled: bool


async def settle(
    session: AsyncSession, delivery_id: int, outcome: AttemptOutcome, now: datetime, jitter: float
) -> Settled:
    """Log the attempt and move the delivery on (one transaction): delivered; pending with its next
    attempt (the last one 3 days after the first); or failed after that last one. A failure 3 days after
    the endpoint's last success disables it (``webhook_endpoint.disabled``; its admins are told)."""
    async with session.begin():
        # Locks in the order a removal of the endpoint takes them (its row, then its deliveries by the
        # cascade): the other order deadlocked with DELETE /v1/webhook-endpoints/{id} (bench.webhooks).
        endpoint_id = await session.scalar(
            select(WebhookDelivery.endpoint_id).where(WebhookDelivery.id == delivery_id)
        )
        if (
            endpoint_id is None
            or (
                await session.scalar(
                    select(WebhookEndpoint.id)
                    .where(WebhookEndpoint.id == endpoint_id)
                    .with_for_update(key_share=True)  # FOR NO KEY UPDATE
                )
            )
            is None
        ):
            return Settled("failed", False)  # removed with its endpoint
        delivery = await session.scalar(
            select(WebhookDelivery).where(WebhookDelivery.id == delivery_id).with_for_update()
        )
        if delivery is None or delivery.state != "pending":  # deleted with its endpoint, or replayed
            return Settled(delivery.state if delivery else "failed", False)
        attempt = delivery.attempts + 1
        session.add(
            WebhookAttempt(
                endpoint_id=delivery.endpoint_id,
                delivery_id=delivery.id,
                event_id=delivery.event_id,
                attempt=attempt,
                at=now,
                status_code=outcome.status_code,
                latency_ms=outcome.latency_ms,
                error=outcome.error[:500] if outcome.error else None,
                ok=outcome.ok,
            )
        )
        first = delivery.first_attempt_at or now
        delivery.attempts, delivery.first_attempt_at = attempt, first
        delivery.last_status, delivery.last_error = outcome.status_code, outcome.error
        if outcome.ok:
            delivery.state, delivery.delivered_at = "delivered", now
            await session.execute(
                update(WebhookEndpoint)
                .where(WebhookEndpoint.id == delivery.endpoint_id, WebhookEndpoint.failing_since.is_not(None))
                .values(failing_since=None)
            )
            return Settled("delivered", False)
        deadline = first + GIVE_UP_AFTER  # the last attempt is made at the end of the three days
        if now >= deadline:
            delivery.state = "failed"
        else:
            delivery.next_attempt_at = min(now + retry_delay(attempt, jitter), deadline)
        failing_since = await session.scalar(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == delivery.endpoint_id)
            .values(failing_since=func.coalesce(WebhookEndpoint.failing_since, now))
            .returning(WebhookEndpoint.failing_since)
        )
        disabled = False
        if failing_since is not None and now - failing_since >= DISABLE_AFTER:
            disabled = await _disable(session, delivery.endpoint_id, now)
    return Settled(delivery.state, disabled)


async def _disable(session: AsyncSession, endpoint_id: int, now: datetime) -> bool:
    reason = "no delivery succeeded for 3 days"
    row = await session.scalar(
        update(WebhookEndpoint)
        .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.enabled)
        .values(enabled=False, disabled_reason=reason, updated_at=now)
        .returning(WebhookEndpoint)
    )
    if row is None:
        return False
    payload = WebhookEndpointPayload(
        endpoint_id=row.id, url=row.url, status="disabled", failing_since=row.failing_since, reason=reason
    )
    events.record(
        session, row.business_id, "webhook_endpoint.disabled", ("webhook_endpoint", row.id), now, payload
    )
    await staff.tell(
        session,
        row.business_id,
        (StaffRole.ADMIN,),
        key=f"webhook_endpoint:{row.id}:disabled:{now.isoformat()}",
        event="webhook_endpoint.disabled",
        entity=("webhook_endpoint", row.id),
        title=f"Webhook endpoint {row.url} was disabled: {reason}. Fix it, then enable it again.",
        link=f"/v1/webhook-endpoints/{row.id}",
    )
    return True


# --- what a business sees and steers --------------------------------------------------------------------


async def attempts(
    session: AsyncSession, endpoint_id: int, after_id: int | None, limit: int
) -> list[WebhookAttempt]:
    """The endpoint's delivery log, newest first (``after_id``: older than that attempt)."""
    query = select(WebhookAttempt).where(WebhookAttempt.endpoint_id == endpoint_id)
    if after_id is not None:
        query = query.where(WebhookAttempt.id < after_id)
    return list(await session.scalars(query.order_by(WebhookAttempt.id.desc()).limit(limit)))


async def deliveries(
    session: AsyncSession, endpoint_id: int, state: str | None, after_id: int | None, limit: int
) -> list[WebhookDelivery]:
    query = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
    if state is not None:
        query = query.where(WebhookDelivery.state == state)
    if after_id is not None:
        query = query.where(WebhookDelivery.id > after_id)
    return list(await session.scalars(query.order_by(WebhookDelivery.id).limit(limit)))


async def replay(
    session: AsyncSession,
    row: WebhookEndpoint,
    now: datetime,
    *,
    event_ids: Sequence[int] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> int:
    """Deliver again, from now, one event (``event_ids``) or the endpoint's events created in
    ``[since, until)``: each one's delivery becomes pending with a fresh 3 days. Returns how many; raises
    ``TooManyToReplay`` past ``REPLAY_MAX`` (ask for a shorter range)."""
    query = select(EventRecord.id, EventRecord.entity_type, EventRecord.entity_id, EventRecord.txid).where(
        EventRecord.business_id == row.business_id
    )
    if event_ids is not None:
        query = query.where(EventRecord.id.in_(event_ids))
    else:
        query = query.where(EventRecord.created_at >= since, EventRecord.created_at < until)
        if row.event_types:
            query = query.where(EventRecord.type.in_(row.event_types))
    async with session.begin():
        found = (await session.execute(query.limit(REPLAY_MAX + 1))).all()
        if len(found) > REPLAY_MAX:
            raise TooManyToReplay(f"more than {REPLAY_MAX} events in this range: ask for a shorter one")
        if not found:
            return 0
        statement = insert(WebhookDelivery).values(
            [
                {
                    "endpoint_id": row.id,
                    "event_id": event.id,
                    "entity_type": event.entity_type,
                    "entity_id": event.entity_id,
                    "txid": event.txid,
                    "next_attempt_at": now,
                }
                for event in found
            ]
        )
        await session.execute(
            statement.on_conflict_do_update(
                constraint="uq_webhook_deliveries_endpoint_event",
                set_={
                    "state": "pending",
                    "next_attempt_at": now,
                    "attempts": 0,
                    "first_attempt_at": None,
                    "delivered_at": None,
                },
            )
        )
    return len(found)
