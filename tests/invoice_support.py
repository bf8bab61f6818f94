"""Helpers for the invoice tests: a company with staff, an invoice through the service, its notifications."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from temporalio.client import Client, WorkflowHandle

from db.engine import SessionFactory
from db.models import InAppNotification, Invoice, StaffUser
from domain.ids import invoice_workflow_id
from domain.invoice_types import InvoiceView
from services.invoices import create_invoice
from tests.factories import make_business
from workflows.invoice import InvoiceWorkflow

InvoiceHandle = WorkflowHandle[Any, InvoiceView]
STAFF = (("Ana Admin", ["admin"]), ("Carl Accounts", ["accounting"]), ("Pia PM", ["pm"]))


async def company(sessions: SessionFactory, **values: Any) -> tuple[int, dict[str, int]]:
    """A construction company with an admin, an accountant and a PM; returns its id and name -> user id."""
    business = await make_business(sessions, name="Bau Nord", **values)
    users: dict[str, int] = {}
    async with sessions() as session:
        for name, roles in STAFF:
            user = StaffUser(
                business_id=business.id, name=name, email=f"{name.split()[0].lower()}@bau.test", roles=roles
            )
            session.add(user)
            await session.flush()
            users[name.split()[0].lower()] = user.id
        await session.commit()
    return business.id, users


async def invoice(
    sessions: SessionFactory, client: Client, business_id: int, due_on: date, **values: Any
) -> tuple[Invoice, InvoiceHandle]:
    fields = {"number": f"R-{due_on:%Y%m%d}", "amount_cents": 125_000, "currency": "EUR", "due_on": due_on}
    row, _ = await create_invoice(sessions, client, business_id, {**fields, **values})
    return row, client.get_workflow_handle_for(InvoiceWorkflow.run, invoice_workflow_id(row.id))


async def notifications(sessions: SessionFactory, invoice_id: int) -> list[tuple[int, str, str]]:
    """(user id, event, message key) of every in-app notification about the invoice, oldest first."""
    async with sessions() as session:
        rows = await session.execute(
            select(InAppNotification)
            .where(InAppNotification.entity_type == "invoice", InAppNotification.entity_id == invoice_id)
            .order_by(InAppNotification.id)
        )
        return [(n.user_id, n.event, n.message_key) for n in rows.scalars()]


async def view(handle: InvoiceHandle) -> InvoiceView:
    return await handle.query(InvoiceWorkflow.state)
