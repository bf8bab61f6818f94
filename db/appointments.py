"""Appointments for the API and the activities: snapshots, booking (idempotent, overlap-checked), reviews."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import BindParameter, Select, and_, bindparam, exists, false, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from db import events, pages
from db.conflicts import FieldConflict
from db.fees import fee_payload
from db.models import (
    Appointment,
    AppointmentFee,
    Business,
    Customer,
    IdempotentRequest,
    NotificationLog,
    Review,
)
from domain.appointment_timeline import label_offset, slot_key
from domain.appointment_types import ACTIVE_STATUSES, AppointmentSnapshot
from domain.automation import AutomationSettings
from domain.events import APPOINTMENT_STATUS_EVENTS, AppointmentPayload, ReviewPayload
from domain.statuses import AppointmentStatus, NotificationStatus

REMINDER_EVENT = "appointment.reminder"  # logged with the variant: appointment.reminder_24h

BLOCKING = (AppointmentStatus.PENDING, AppointmentStatus.CONFIRMED, AppointmentStatus.CHECKED_IN)


class BookingConflict(FieldConflict):
    """The booking cannot be made as asked; ``field`` names the input at fault."""


class UnknownCustomer(BookingConflict):
    """The booking names a customer the business does not have."""


class SlotTaken(BookingConflict):
    """The resource is booked then (the business prevents overlaps): a conflict with what is stored."""


class ExternalIdTaken(BookingConflict):
    """Another appointment of the business has this ``external_id``."""

    def __init__(self) -> None:
        super().__init__("external_id", "another appointment of yours has this external_id")


EXTERNAL_ID_UNIQUE = "uq_appointments_business_external_id"


async def has_reviewed(session: AsyncSession, appointment: Appointment) -> bool:
    query = select(
        exists().where(
            Review.business_id == appointment.business_id, Review.customer_id == appointment.customer_id
        )
    )
    return bool((await session.execute(query)).scalar())


async def appointment_snapshot(session: AsyncSession, appointment: Appointment) -> AppointmentSnapshot:
    """What the workflow plans with: the row plus its business's zone and automation settings, and the
    reminder slots the log has as sent (after a reschedule: a workflow started from the row, or the
    settings preview, then knows them too)."""
    business = await session.get(Business, appointment.business_id)
    assert business is not None
    snapshot = snapshot_of(appointment, business, reviewed=await has_reviewed(session, appointment))
    if appointment.version > 1:  # a first version has no earlier slot
        slots = await sent_reminder_slots(session, [appointment.id])
        snapshot.sent_slots = slots.get(appointment.id, [])
    return snapshot


async def sent_reminder_slots(session: AsyncSession, appointment_ids: list[int]) -> dict[int, list[str]]:
    """Appointment id -> the slots (``<offset>@<starts_at>``) its sent or delivered reminders were for."""
    rows = await session.execute(
        select(NotificationLog.entity_id, NotificationLog.event, NotificationLog.scheduled_for).where(
            NotificationLog.entity_type == "appointment",
            NotificationLog.entity_id.in_(appointment_ids),
            NotificationLog.event.startswith(f"{REMINDER_EVENT}_"),
            NotificationLog.status.in_([NotificationStatus.SENT, NotificationStatus.DELIVERED]),
            NotificationLog.scheduled_for.is_not(None),
        )
    )
    slots: dict[int, list[str]] = {}
    for entity_id, event, scheduled_for in rows.all():
        offset = label_offset(event.removeprefix(f"{REMINDER_EVENT}_"))
        if offset is None or scheduled_for is None:
            continue  # never written by us: nothing to know
        slot = slot_key(offset, scheduled_for + timedelta(seconds=offset))
        if slot not in slots.setdefault(entity_id, []):
            slots[entity_id].append(slot)
    return slots


def snapshot_of(appointment: Appointment, business: Business, *, reviewed: bool) -> AppointmentSnapshot:
    """The row and its business's planning settings as the workflow sees them (no I/O)."""
    stored = AutomationSettings.from_stored(business.automation)
    return AppointmentSnapshot(
        appointment_id=appointment.id,
        business_id=appointment.business_id,
        customer_id=appointment.customer_id,
        status=appointment.status.value,
        starts_at=appointment.starts_at,
        ends_at=appointment.ends_at,
        version=appointment.version,
        time_zone=business.time_zone,
        automation=stored.settings,
        invalid_settings=stored.invalid,
        settings_revision=business.settings_revision,
        checked_in_at=appointment.checked_in_at,
        completed_at=appointment.completed_at,
        reviewed=reviewed,
    )


def request_hash(body: dict[str, Any]) -> str:
    canonical = repr(sorted(body.items())).encode()
    return hashlib.sha256(canonical).hexdigest()


class _KeyTaken(Exception):
    """Another request with the same Idempotency-Key committed first (see ``book``)."""


@dataclass(frozen=True)
class Booking:
    """What ``book`` made or found: the row, whether it is new, and what its workflow starts with."""

    appointment: Appointment
    created: bool
    snapshot: AppointmentSnapshot


async def book(
    session: AsyncSession,
    business_id: int,
    values: dict[str, Any],
    *,
    idempotency_key: str | None,
    body_hash: str,
) -> Booking:
    """Insert the appointment (or find the one this Idempotency-Key made) and read its snapshot. Commits.

    One transaction, and no lock that other bookings wait behind unless it is needed: a retry that comes
    after the first request committed finds the key at once; two requests with one key at the same time
    both insert, the second's insert of the key waits on the first's uncommitted key row (its primary key),
    finds it taken once that commits, rolls its own booking back and answers with the first one. Overlaps
    are refused under an advisory lock per (business, resource), taken only when overlap prevention is on,
    so bookings of other resources, and of businesses that do not prevent overlaps, never queue. The
    snapshot is read inside the same transaction, and the key's earlier use is looked up by the statement
    that reads the business, so a new booking costs one transaction of three statements (bench.bookings).
    """
    try:
        async with session.begin():
            facts = await _booking_facts(session, business_id, values["customer_id"], idempotency_key)
            if facts.earlier is not None:
                earlier = await _earlier_booking(session, facts.earlier, body_hash)
                return Booking(earlier, False, await appointment_snapshot(session, earlier))
            appointment = await _insert(session, facts, values)
            if idempotency_key is not None:
                claimed = await session.execute(
                    _CLAIM_KEY,
                    {
                        "business_id": business_id,
                        "key": idempotency_key,
                        "request_hash": body_hash,
                        "resource_id": appointment.id,
                    },
                )
                if claimed.first() is None:
                    raise _KeyTaken
            return Booking(
                appointment, True, snapshot_of(appointment, facts.business, reviewed=facts.reviewed)
            )
    except _KeyTaken:
        assert idempotency_key is not None
        async with session.begin():
            first = await _booked_with(session, business_id, idempotency_key, body_hash)
            assert first is not None  # committed before our insert returned
            return Booking(first, False, await appointment_snapshot(session, first))


async def _booked_with(
    session: AsyncSession, business_id: int, idempotency_key: str, body_hash: str
) -> Appointment | None:
    """The appointment an earlier request with this key made, if any (a different body is a conflict)."""
    earlier = await session.get(IdempotentRequest, (business_id, idempotency_key))
    return None if earlier is None else await _earlier_booking(session, earlier, body_hash)


async def _earlier_booking(session: AsyncSession, earlier: IdempotentRequest, body_hash: str) -> Appointment:
    if earlier.request_hash != body_hash:
        raise BookingConflict("Idempotency-Key", "this Idempotency-Key was used with a different body")
    appointment = await session.get(Appointment, earlier.resource_id)
    assert appointment is not None
    return appointment


@dataclass(frozen=True)
class BookingFacts:
    """What a booking reads before it inserts: its business, whether the customer is the business's and
    has reviewed it, and the earlier use of the request's Idempotency-Key (None: first use, or no key)."""

    business: Business
    known: bool
    reviewed: bool
    earlier: IdempotentRequest | None


def _booking_facts_query(*, keyed: bool) -> Select[Business, bool, bool, IdempotentRequest]:
    """The booking's first statement, built once per process with bound parameters (``business_id``,
    ``customer_id``, ``key``): building and cache-keying it on every request was a tenth of the API's CPU
    per booking (a py-spy profile during bench.bookings, 2026-12-04)."""
    business_id: BindParameter[int] = bindparam("business_id")
    customer_id: BindParameter[int] = bindparam("customer_id")
    query = select(
        Business,
        exists().where(Customer.id == customer_id, Customer.business_id == business_id).label("known"),
        exists()
        .where(Review.business_id == business_id, Review.customer_id == customer_id)
        .label("reviewed"),
        IdempotentRequest,
    ).where(Business.id == business_id)
    # An outer join on the key's primary key: at most one row. Without a key, nothing can match.
    key: BindParameter[str] = bindparam("key")
    key_matches = and_(IdempotentRequest.business_id == Business.id, IdempotentRequest.key == key)
    # FOR SHARE OF businesses: the snapshot stamps the business's settings revision, and the workflow starts
    # after the commit. A settings change (FOR UPDATE / UPDATE of the row) waits until this booking commits,
    # so its rollout, which pages through appointments after the change commits, sees this one; a booking
    # that comes after the change waits for it and reads the new revision (READ COMMITTED re-reads a locked
    # row). Without it, a booking committed just after the rollout read its page kept the old settings.
    # Bookings do not block each other: share locks are compatible.
    outer = query.outerjoin(IdempotentRequest, key_matches if keyed else false())
    return outer.with_for_update(read=True, of=Business)


_FACTS_WITH_KEY = _booking_facts_query(keyed=True)
_FACTS_WITHOUT_KEY = _booking_facts_query(keyed=False)
# The key's claim, as built once: the Idempotency-Key's row, unless another request's already holds it.
_CLAIM_KEY = (
    insert(IdempotentRequest)
    .values(
        business_id=bindparam("business_id"),
        key=bindparam("key"),
        request_hash=bindparam("request_hash"),
        resource_id=bindparam("resource_id"),
    )
    .on_conflict_do_nothing()
    .returning(IdempotentRequest.key)
)


async def _booking_facts(
    session: AsyncSession, business_id: int, customer_id: int, idempotency_key: str | None
) -> BookingFacts:
    """One statement for the business, the customer check (another tenant's customer is not found), the
    customer's review and the Idempotency-Key's earlier use: four reads a booking needs (bench.bookings
    counts the statements)."""
    params: dict[str, Any] = {"business_id": business_id, "customer_id": customer_id}
    if idempotency_key is not None:
        params["key"] = idempotency_key
    query = _FACTS_WITHOUT_KEY if idempotency_key is None else _FACTS_WITH_KEY
    row = (await session.execute(query, params)).one()
    return BookingFacts(row.Business, bool(row.known), bool(row.reviewed), row.IdempotentRequest)


async def _insert(session: AsyncSession, facts: BookingFacts, values: dict[str, Any]) -> Appointment:
    """Insert the row (after the customer check and, where the business prevents them, the overlap check)."""
    business = facts.business
    if not facts.known:
        raise UnknownCustomer("customer_id", "no such customer")
    settings = AutomationSettings.from_stored(business.automation).settings
    if settings.prevent_overlaps and values.get("resource"):
        await _lock(session, f"booking:{business.id}:{values['resource']}")
        await _refuse_overlap(
            session, business.id, values["resource"], values["starts_at"], values["ends_at"]
        )
    status = (
        AppointmentStatus.CONFIRMED
        if settings.booking_mode == "confirm_automatically"
        else AppointmentStatus.PENDING
    )
    # The instants as PostgreSQL returns them (UTC), so the answer does not depend on re-reading the row.
    instants = {name: values[name].astimezone(UTC) for name in ("starts_at", "ends_at")}
    columns = {**values, **instants, "meta": values.get("metadata")}
    columns.pop("metadata", None)
    appointment = Appointment(business_id=business.id, status=status, **columns)
    session.add(appointment)
    try:
        await session.flush()
    except IntegrityError as exc:
        if EXTERNAL_ID_UNIQUE in str(exc.orig):
            raise ExternalIdTaken() from exc
        raise
    record_change(session, appointment, "appointment.booked", datetime.now(UTC))
    return appointment


def appointment_payload(appointment: Appointment) -> AppointmentPayload:
    return AppointmentPayload(
        appointment_id=appointment.id,
        customer_id=appointment.customer_id,
        status=appointment.status.value,
        starts_at=appointment.starts_at,
        ends_at=appointment.ends_at,
        version=appointment.version,
        service=appointment.service,
        resource=appointment.resource,
        external_id=appointment.external_id,
        cancelled_by=appointment.cancelled_by if appointment.status == AppointmentStatus.CANCELLED else None,
    )


def record_change(session: AsyncSession, appointment: Appointment, event_type: str, at: datetime) -> None:
    """The event of a change of ``appointment``, in the change's transaction (the outbox)."""
    events.record(
        session,
        appointment.business_id,
        event_type,
        ("appointment", appointment.id),
        at,
        appointment_payload(appointment),
    )


def record_status(session: AsyncSession, appointment: Appointment, at: datetime) -> None:
    """The event of the status ``appointment`` has just been given (none for a status without one)."""
    event_type = APPOINTMENT_STATUS_EVENTS.get(appointment.status.value)
    if event_type is not None:
        record_change(session, appointment, event_type, at)


async def _lock(session: AsyncSession, name: str) -> None:
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:name, 0))"), {"name": name})


async def _refuse_overlap(
    session: AsyncSession,
    business_id: int,
    resource: str,
    starts_at: datetime,
    ends_at: datetime,
    *,
    except_id: int | None = None,
) -> None:
    query = select(Appointment.id).where(
        Appointment.business_id == business_id,
        Appointment.resource == resource,
        Appointment.status.in_(BLOCKING),
        Appointment.starts_at < ends_at,
        Appointment.ends_at > starts_at,
    )
    if except_id is not None:
        query = query.where(Appointment.id != except_id)
    clash = await session.execute(query.limit(1))
    other = clash.scalar_one_or_none()
    if other is not None:
        raise SlotTaken("starts_at", f"{resource} is already booked then (appointment {other})")


async def refuse_overlap_on_reschedule(
    session: AsyncSession, appointment: Appointment, starts_at: datetime, ends_at: datetime
) -> None:
    """Raise BookingConflict if moving ``appointment`` there would overlap its resource's other bookings."""
    business = await session.get(Business, appointment.business_id)
    assert business is not None
    if AutomationSettings.from_stored(business.automation).settings.prevent_overlaps and appointment.resource:
        await _refuse_overlap(
            session,
            appointment.business_id,
            appointment.resource,
            starts_at,
            ends_at,
            except_id=appointment.id,
        )


async def appointment_of(
    session: AsyncSession, business_id: int, appointment_id: int, *, lock: bool = False
) -> Appointment | None:
    """The business's appointment (row-locked until the transaction ends with ``lock``)."""
    appointment = await session.get(Appointment, appointment_id, with_for_update=lock)
    return appointment if appointment is not None and appointment.business_id == business_id else None


async def charge_no_show(
    session: AsyncSession, appointment: Appointment, fee_cents: int, penalty: int
) -> None:
    """The no-show fee row (once per appointment, for the payment system) with its ``fee.applied`` event,
    and the reputation penalty."""
    if fee_cents > 0:
        inserted = await session.execute(
            insert(AppointmentFee)
            .values(
                appointment_id=appointment.id,
                business_id=appointment.business_id,
                customer_id=appointment.customer_id,
                amount_cents=fee_cents,
            )
            .on_conflict_do_nothing(index_elements=[AppointmentFee.appointment_id])
            .returning(AppointmentFee)
        )
        fee = inserted.scalar_one_or_none()
        if fee is not None:  # the first time (a retried activity charges nothing again)
            events.record(
                session,
                appointment.business_id,
                "fee.applied",
                ("appointment", appointment.id),
                fee.created_at,
                fee_payload(fee),
            )
    if penalty:
        await session.execute(
            update(Customer)
            .where(Customer.id == appointment.customer_id)
            .values(reputation_score=func.greatest(Customer.reputation_score - penalty, 0))
        )


BY_START: pages.Order[Appointment] = pages.Order(
    "starts_at",
    (
        pages.Key(Appointment.starts_at, lambda a: a.starts_at, datetime),
        pages.Key(Appointment.id, lambda a: a.id),
    ),
)
BY_CHANGE: pages.Order[Appointment] = pages.Order(
    "updated_at",
    (
        pages.Key(Appointment.updated_at, lambda a: a.updated_at, datetime),
        pages.Key(Appointment.id, lambda a: a.id),
    ),
)


async def list_appointments(
    session: AsyncSession,
    business_id: int,
    *,
    status: str | None,
    starts_from: datetime | None,
    starts_before: datetime | None,
    customer_id: int | None,
    limit: int,
    external_id: str | None = None,
    updated_after: datetime | None = None,
    after: str | None = None,
) -> tuple[list[Appointment], str | None]:
    """A page in start order, or in the order of their last change with ``updated_after``; and the cursor
    of the next page (None: the last). ``after``: a cursor this list answered (else ``BadCursor``)."""
    order = BY_START if updated_after is None else BY_CHANGE
    position = order.position(after) if after is not None else None
    query = select(Appointment).where(Appointment.business_id == business_id)
    if updated_after is not None:
        query = query.where(Appointment.updated_at > updated_after)
    if external_id is not None:
        query = query.where(Appointment.external_id == external_id)
    if status is not None:
        query = query.where(Appointment.status == AppointmentStatus(status))
    if starts_from is not None:
        query = query.where(Appointment.starts_at >= starts_from)
    if starts_before is not None:
        query = query.where(Appointment.starts_at < starts_before)
    if customer_id is not None:
        query = query.where(Appointment.customer_id == customer_id)
    rows = list((await session.execute(pages.ordered(query, order, position, limit))).scalars())
    return pages.page(rows, order, limit)


class AlreadyReviewed(Exception):
    """The appointment has a different review already (one per appointment)."""


async def add_review(
    session: AsyncSession, appointment: Appointment, rating: int, text_: str | None
) -> tuple[Business, bool]:
    """Store the review and recompute the business's rating statistics, in one transaction.

    Returns the business and whether the review is new: the same review again is a repeat, answered with the
    figures as they are; a different one raises AlreadyReviewed."""
    review = Review(
        business_id=appointment.business_id,
        customer_id=appointment.customer_id,
        appointment_id=appointment.id,
        rating=rating,
        text=text_,
    )
    session.add(review)
    try:
        await session.flush()
    except IntegrityError as exc:  # UNIQUE(appointment_id): one review per appointment, even under a race
        await session.rollback()
        existing = (
            await session.execute(select(Review).where(Review.appointment_id == appointment.id))
        ).scalar_one_or_none()
        if existing is None or (existing.rating, existing.text) != (rating, text_):
            raise AlreadyReviewed from exc
        business = await session.get(Business, appointment.business_id)
        assert business is not None
        return business, False
    business = (
        await session.execute(
            select(Business).where(Business.id == appointment.business_id).with_for_update()
        )
    ).scalar_one()
    grouped = await session.execute(
        select(Review.rating, func.count())
        .where(Review.business_id == appointment.business_id)
        .group_by(Review.rating)
    )
    counts = {int(stars): int(n) for stars, n in grouped.all()}
    total = sum(counts.values())
    business.rating_count = total
    business.rating_average = round(sum(stars * n for stars, n in counts.items()) / total, 2)
    business.rating_distribution = {str(stars): counts.get(stars, 0) for stars in range(1, 6)}
    payload = ReviewPayload(
        review_id=review.id,
        appointment_id=appointment.id,
        customer_id=appointment.customer_id,
        rating=rating,
        has_text=bool(text_),
    )
    events.record(
        session,
        appointment.business_id,
        "review.received",
        ("appointment", appointment.id),
        datetime.now(UTC),
        payload,
    )
    await session.commit()
    return business, True


async def active_appointments(session: AsyncSession, starting_since: datetime) -> list[Appointment]:
    """Pending, confirmed or checked-in appointments, not archived, starting since the given instant."""
    rows = await session.execute(
        select(Appointment).where(
            Appointment.status.in_([AppointmentStatus(s) for s in ACTIVE_STATUSES]),
            Appointment.starts_at >= starting_since,
            Appointment.archived_at.is_(None),
        )
    )
    return list(rows.scalars())


async def by_external_id(session: AsyncSession, business_id: int, external_id: str) -> Appointment | None:
    return await session.scalar(
        select(Appointment).where(
            Appointment.business_id == business_id, Appointment.external_id == external_id
        )
    )


async def set_metadata(session: AsyncSession, appointment_id: int, metadata: dict[str, str] | None) -> None:
    """Replace the appointment's metadata (it is the business's: no event, no workflow change)."""
    async with session.begin():
        await session.execute(
            update(Appointment).where(Appointment.id == appointment_id).values(meta=metadata)
        )
