"""Invoices: the row first, then its workflow; every change is made in PostgreSQL and then signalled."""

from __future__ import annotations

import contextlib
from datetime import UTC, date, datetime
from typing import Any

from temporalio.client import Client
from temporalio.service import RPCError

from db import invoices as store
from db.engine import SessionFactory
from db.models import Invoice
from domain.ids import invoice_workflow_id
from domain.invoice_types import InvoiceChanged
from domain.statuses import InvoiceStatus
from workflows.invoice import InvoiceWorkflow
from workflows.starts import start_invoice_workflow


async def create_invoice(
    sessions: SessionFactory, client: Client, business_id: int, values: dict[str, Any]
) -> tuple[Invoice, bool]:
    """Commit the invoice (or find the same one under its number), then make sure its workflow runs.
    A draft has no workflow until it is sent."""
    async with sessions() as session:
        created = await store.create(session, business_id, values)
    if created.invoice.status in store.OPEN:
        await start_invoice_workflow(client, created.snapshot)
    return created.invoice, created.created


async def list_invoices(
    sessions: SessionFactory,
    business_id: int,
    *,
    status: InvoiceStatus | None,
    external_id: str | None,
    updated_after: datetime | None,
    after: str | None,
    limit: int,
) -> tuple[list[Invoice], str | None]:
    """Raises ``domain.pages.BadCursor`` for a cursor this list did not answer."""
    async with sessions() as session:
        return await store.list_invoices(
            session,
            business_id,
            status=status,
            external_id=external_id,
            updated_after=updated_after,
            after=after,
            limit=limit,
        )


async def pay(sessions: SessionFactory, client: Client, business_id: int, invoice_id: int) -> Invoice | None:
    async with sessions() as session:
        invoice = await store.pay(session, business_id, invoice_id, datetime.now(UTC))
    return await _signalled(client, invoice)


async def write_off(
    sessions: SessionFactory, client: Client, business_id: int, invoice_id: int, reason: str
) -> Invoice | None:
    async with sessions() as session:
        invoice = await store.write_off(session, business_id, invoice_id, reason, datetime.now(UTC))
    return await _signalled(client, invoice)


async def move_due_date(
    sessions: SessionFactory, client: Client, business_id: int, invoice_id: int, due_on: date
) -> Invoice | None:
    async with sessions() as session:
        invoice = await store.move_due_date(session, business_id, invoice_id, due_on, datetime.now(UTC))
    return await _signalled(client, invoice)


async def send(sessions: SessionFactory, client: Client, business_id: int, invoice_id: int) -> Invoice | None:
    """A draft is sent: its timeline starts (a repeat finds it sent and changes nothing)."""
    async with sessions() as session:
        invoice = await store.mark_sent(session, business_id, invoice_id)
        snapshot = await store.snapshot_of(session, invoice) if invoice is not None else None
    if snapshot is not None and snapshot.status in store.OPEN:
        await start_invoice_workflow(client, snapshot)
    return invoice


async def _signalled(client: Client, invoice: Invoice | None) -> Invoice | None:
    """Tell the invoice's workflow to re-read its row. A lost signal loses nothing: the next moment checks
    the row under its lock; a workflow that has ended (paid, written off) has nothing to hear."""
    if invoice is not None and invoice.status != InvoiceStatus.DRAFT:
        with contextlib.suppress(RPCError):
            await client.get_workflow_handle_for(InvoiceWorkflow.run, invoice_workflow_id(invoice.id)).signal(
                InvoiceWorkflow.invoice_changed, InvoiceChanged(version=invoice.version)
            )
    return invoice
