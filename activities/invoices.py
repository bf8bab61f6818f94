"""Invoice activities: read the row, and act on one moment of its timeline (one transaction each)."""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError

from db import invoices
from db.engine import SessionFactory
from domain.invoice_types import InvoiceMomentInput, InvoiceMomentResult, InvoiceRef, InvoiceSnapshot


def _missing() -> ApplicationError:
    # Not retried: the row was deleted (its business with it); the workflow ends quietly on it.
    return ApplicationError("the invoice is gone", type="InvoiceMissing", non_retryable=True)


class InvoiceActivities:
    def __init__(self, sessions: SessionFactory) -> None:
        self._sessions = sessions

    @activity.defn
    async def load_invoice(self, ref: InvoiceRef) -> InvoiceSnapshot:
        async with self._sessions() as session:
            invoice = await invoices.invoice_of(session, ref.business_id, ref.invoice_id)
            if invoice is None:
                raise _missing()
            return await invoices.snapshot_of(session, invoice)

    @activity.defn
    async def act_on_invoice_moment(self, moment: InvoiceMomentInput) -> InvoiceMomentResult:
        async with self._sessions() as session:
            result = await invoices.act_on_moment(session, moment)
        if result is None:
            raise _missing()
        return result
