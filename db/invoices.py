"""Invoices of construction companies: create (idempotent by number), steer (pay, write off, new due date),
the overdue list in collection order, and the one transaction a workflow moment runs in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from db import events, external_ids, pages, staff
from db.conflicts import FieldConflict
from db.models import Business, Invoice
from db.repeats import body_digest, same_request
from domain.automation import AutomationSettings
from domain.events import INVOICE_STATUS_EVENTS, InvoicePayload
from domain.invoice_timeline import days_overdue, invoice_moments, overdue_at
from domain.invoice_types import InvoiceMomentInput, InvoiceMomentResult, InvoiceSnapshot
from domain.statuses import InvoiceStatus, StaffRole

OPEN = (InvoiceStatus.SENT, InvoiceStatus.OVERDUE)  # what a workflow sleeps on
TOLD_OF_OVERDUE = (StaffRole.ADMIN, StaffRole.ACCOUNTING)


class InvoiceConflict(FieldConflict):
    """Raised by this module's changes (``field`` names the input at fault)."""


@dataclass(frozen=True)
class Created:
    invoice: Invoice
    created: bool
    snapshot: InvoiceSnapshot


async def create(session: AsyncSession, business_id: int, values: dict[str, Any]) -> Created:
    """Insert the invoice, or return the one with this number if its fields are the same (a retried
    request); another invoice under the same number is a conflict, and so is another's ``external_id``
    (``external_ids.ExternalIdTaken``). Commits."""
    try:
        async with session.begin():
            return await _create(session, business_id, values)
    except IntegrityError as exc:
        external_ids.raise_if_taken(exc, Invoice, "invoice")
        raise


async def _create(session: AsyncSession, business_id: int, values: dict[str, Any]) -> Created:
    inserted = await session.execute(
        insert(Invoice)
        .values(
            business_id=business_id,
            created_from=body_digest(external_ids.hashed(values)),
            **external_ids.columns(values),
        )
        .on_conflict_do_nothing(index_elements=["business_id", "number"])
        .returning(Invoice.id)
    )
    new_id = inserted.scalar()
    invoice = await _one(session, business_id, number=values["number"])
    if new_id is None and not same_request(
        invoice.created_from, external_ids.hashed(values), unchanged=_same(invoice, values)
    ):
        raise InvoiceConflict("number", "another invoice has this number")
    if new_id is not None:
        _record_status(session, invoice, datetime.now(UTC))  # a draft has none: it is issued when sent
    return Created(invoice, new_id is not None, await snapshot_of(session, invoice))


def _same(invoice: Invoice, values: dict[str, Any]) -> bool:
    """For a row from before digests: the fields nothing but the create writes."""
    return all(
        getattr(invoice, name) == values.get(name) for name in ("client_name", "amount_cents", "currency")
    )


async def _one(session: AsyncSession, business_id: int, *, number: str) -> Invoice:
    row = await session.execute(
        select(Invoice).where(Invoice.business_id == business_id, Invoice.number == number)
    )
    return row.scalar_one()


async def invoice_of(
    session: AsyncSession, business_id: int, invoice_id: int, *, lock: bool = False
) -> Invoice | None:
    """The invoice if it belongs to ``business_id`` (another tenant's is simply not found)."""
    query = select(Invoice).where(Invoice.id == invoice_id, Invoice.business_id == business_id)
    row = await session.execute(query.with_for_update() if lock else query)
    return row.scalar_one_or_none()


async def snapshot_of(session: AsyncSession, invoice: Invoice) -> InvoiceSnapshot:
    business = await session.get(Business, invoice.business_id)
    assert business is not None  # foreign key
    ladder = AutomationSettings.from_stored(business.automation).settings.invoice_escalation_days
    return InvoiceSnapshot(
        invoice_id=invoice.id,
        business_id=invoice.business_id,
        status=invoice.status,
        due_on=invoice.due_on,
        version=invoice.version,
        time_zone=business.time_zone,
        escalation_days=ladder,
        moments=invoice_moments(invoice.due_on, ladder, ZoneInfo(business.time_zone)),
    )


async def pay(session: AsyncSession, business_id: int, invoice_id: int, paid_at: datetime) -> Invoice | None:
    """Mark it paid (a repeat finds it paid and changes nothing). Commits; None: no such invoice."""
    async with session.begin():
        invoice = await invoice_of(session, business_id, invoice_id, lock=True)
        if invoice is None or invoice.status == InvoiceStatus.PAID:
            return invoice
        if invoice.status == InvoiceStatus.WRITTEN_OFF:
            raise InvoiceConflict("status", "the invoice was written off")
        invoice.status, invoice.paid_at = InvoiceStatus.PAID, paid_at
        invoice.version += 1
        _record_status(session, invoice, paid_at)
    return invoice


async def write_off(
    session: AsyncSession, business_id: int, invoice_id: int, reason: str, at: datetime
) -> Invoice | None:
    """Write it off (a repeat changes nothing). Commits; None if there is no such invoice."""
    async with session.begin():
        invoice = await invoice_of(session, business_id, invoice_id, lock=True)
        if invoice is None or invoice.status == InvoiceStatus.WRITTEN_OFF:
            return invoice
        if invoice.status == InvoiceStatus.PAID:
            raise InvoiceConflict("status", "the invoice is paid")
        invoice.status, invoice.written_off_at, invoice.write_off_reason = (
            InvoiceStatus.WRITTEN_OFF,
            at,
            reason,
        )
        invoice.version += 1
        _record_status(session, invoice, at)
    return invoice


async def move_due_date(
    session: AsyncSession, business_id: int, invoice_id: int, due_on: date, now: datetime
) -> Invoice | None:
    """A new due date: an overdue invoice whose new date has not passed is ``sent`` again (its timeline
    starts over); the same date again changes nothing. Commits; None if there is no such invoice."""
    async with session.begin():
        invoice = await invoice_of(session, business_id, invoice_id, lock=True)
        if invoice is None or invoice.due_on == due_on:
            return invoice
        if invoice.status not in (*OPEN, InvoiceStatus.DRAFT):  # a draft's date can change before it is sent
            raise InvoiceConflict("status", f"the invoice is {invoice.status.value}")
        business = await session.get(Business, business_id)
        assert business is not None
        invoice.due_on = due_on
        if invoice.status == InvoiceStatus.OVERDUE and now < overdue_at(due_on, ZoneInfo(business.time_zone)):
            invoice.status, invoice.overdue_since = InvoiceStatus.SENT, None
        invoice.version += 1
    return invoice


async def mark_sent(session: AsyncSession, business_id: int, invoice_id: int) -> Invoice | None:
    """A draft becomes ``sent`` (anything else is left as it is). Commits; None: no such invoice."""
    async with session.begin():
        invoice = await invoice_of(session, business_id, invoice_id, lock=True)
        if invoice is not None and invoice.status == InvoiceStatus.DRAFT:
            invoice.status = InvoiceStatus.SENT
            invoice.version += 1
            _record_status(session, invoice, datetime.now(UTC))
    return invoice


def _record_status(session: AsyncSession, invoice: Invoice, at: datetime) -> None:
    """The event of the status ``invoice`` has just been given, in its transaction (the outbox)."""
    event_type = INVOICE_STATUS_EVENTS.get(invoice.status.value)
    if event_type is None:
        return
    payload = InvoicePayload(
        invoice_id=invoice.id,
        number=invoice.number,
        status=invoice.status.value,
        amount_cents=invoice.amount_cents,
        currency=invoice.currency,
        due_on=invoice.due_on,
        version=invoice.version,
        external_id=invoice.external_id,
    )
    events.record(session, invoice.business_id, event_type, ("invoice", invoice.id), at, payload)


async def open_invoices(session: AsyncSession) -> list[Invoice]:
    """Every invoice a workflow should be sleeping on (the reconciler's list)."""
    return list((await session.execute(select(Invoice).where(Invoice.status.in_(OPEN)))).scalars())


BY_DUE_DATE: pages.Order[Invoice] = pages.Order(
    "due_on",
    (pages.Key(Invoice.due_on, lambda i: i.due_on, date), pages.Key(Invoice.id, lambda i: i.id)),
)
# Collection order: longest overdue first (earliest due date), then the largest.
IN_COLLECTION_ORDER: pages.Order[Invoice] = pages.Order(
    "collection",
    (
        pages.Key(Invoice.due_on, lambda i: i.due_on, date),
        pages.Key(Invoice.amount_cents, lambda i: i.amount_cents, descending=True),
        pages.Key(Invoice.id, lambda i: i.id),
    ),
)
BY_CHANGE: pages.Order[Invoice] = pages.Order(
    "updated_at",
    (pages.Key(Invoice.updated_at, lambda i: i.updated_at, datetime), pages.Key(Invoice.id, lambda i: i.id)),
)


async def list_invoices(
    session: AsyncSession,
    business_id: int,
    *,
    status: InvoiceStatus | None,
    external_id: str | None,
    updated_after: datetime | None,
    after: str | None,
    limit: int,
) -> tuple[list[Invoice], str | None]:
    """A page by due date; overdue ones in collection order; with ``updated_after`` in the order of their
    last change; and the next page's cursor (None: the last). ``after``: a cursor this list answered."""
    if updated_after is not None:
        order = BY_CHANGE
    else:
        order = IN_COLLECTION_ORDER if status == InvoiceStatus.OVERDUE else BY_DUE_DATE
    position = order.position(after) if after is not None else None
    statement = external_ids.filtered(
        select(Invoice).where(Invoice.business_id == business_id), Invoice, external_id
    )
    if status is not None:
        statement = statement.where(Invoice.status == status)
    if updated_after is not None:
        statement = statement.where(Invoice.updated_at > updated_after)
    rows = list((await session.execute(pages.ordered(statement, order, position, limit))).scalars())
    return pages.page(rows, order, limit)


async def act_on_moment(session: AsyncSession, moment: InvoiceMomentInput) -> InvoiceMomentResult | None:
    """One moment of the timeline, in one transaction under the row's lock: nothing happens if the invoice
    was paid, written off or given a new due date meanwhile (whichever commits first wins, so nothing is
    told after a payment). The overdue moment moves ``sent`` to ``overdue``; admins and accounting are
    told of the change and of each escalation, once each (the notifications' keys are UNIQUE).
    None: the invoice is gone."""
    async with session.begin():
        invoice = await invoice_of(session, moment.business_id, moment.invoice_id, lock=True)
        if invoice is None:
            return None
        reason = None
        if invoice.status not in OPEN:
            reason = invoice.status.value
        elif invoice.due_on != moment.due_on:
            reason = "due_date_moved"
        elif moment.kind == "overdue" and invoice.status == InvoiceStatus.OVERDUE:
            reason = "already_overdue"
        notified = 0
        if reason is None:
            if moment.kind == "overdue":
                invoice.status, invoice.overdue_since = InvoiceStatus.OVERDUE, moment.at
                _record_status(session, invoice, moment.at)
            notified = await _tell_staff(session, invoice, moment)
        return InvoiceMomentResult(
            acted=reason is None,
            reason=reason,
            notified=notified,
            snapshot=await snapshot_of(session, invoice),
        )


async def _tell_staff(session: AsyncSession, invoice: Invoice, moment: InvoiceMomentInput) -> int:
    overdue = moment.kind == "overdue"
    event = "invoice.overdue" if overdue else f"invoice.overdue_{moment.days_overdue}d"
    title = (
        f"Invoice {invoice.number} is overdue"
        if overdue
        else f"Invoice {invoice.number} is {moment.days_overdue} days overdue"
    )
    return await staff.tell(
        session,
        invoice.business_id,
        TOLD_OF_OVERDUE,
        key=f"invoice:{invoice.id}:{event}:{moment.at.isoformat()}",
        event=event,
        entity=("invoice", invoice.id),
        title=title,
        link=f"/v1/invoices/{invoice.id}",
    )


def days_overdue_now(invoice: Invoice, now: datetime, time_zone: str) -> int:
    """``days_overdue`` as the API shows it: derived, never stored (0 unless the invoice is overdue)."""
    if invoice.status != InvoiceStatus.OVERDUE:
        return 0
    return days_overdue(invoice.due_on, now, ZoneInfo(time_zone))
