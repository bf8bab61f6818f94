"""Invoices of construction companies: create (idempotent by number), read with the workflow's state, the
overdue list in collection order, and the steering calls (send, payment, new due date, write-off)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from aiohttp import web
from pydantic import Field

from api.auth import require_business
from api.businesses import path_external_id, path_id
from api.errors import ApiError, conflict_error, cursor_error, parse_json_body
from api.keys import SESSIONS, TEMPORAL
from api.openapi import RouteTable
from api.queries import Cursor, Query, UpdatedAfter, parse_query
from api.resources import InvoiceOut
from api.schemas import InvoiceCreate, InvoiceDueDate, InvoiceWriteOff
from api.serializers import invoice_json
from db import invoices as store
from db.models import Business, Invoice
from domain.ids import invoice_workflow_id
from domain.limits import ExternalId, Instant
from domain.pages import BadCursor
from domain.statuses import InvoiceStatus
from keeptime.temporal_client import query_or_none
from services import external_ids, invoices
from workflows.invoice import InvoiceWorkflow

routes = RouteTable("invoices")


class InvoiceListQuery(Query):
    after: str | None = Cursor
    updated_after: Instant | None = UpdatedAfter
    status: InvoiceStatus | None = Field(
        default=None, description="overdue: in collection order (longest overdue, then largest, first)"
    )
    external_id: ExternalId | None = Field(default=None, description="the one with your id")
    limit: int = Field(default=100, ge=1, le=500, description="at most this many items")


async def _zone(request: web.Request, business_id: int) -> str:
    async with request.app[SESSIONS]() as session:
        business = await session.get(Business, business_id)
    assert business is not None  # the API key names it
    return business.time_zone


def _json(invoice: Invoice, zone: str) -> dict[str, object]:
    return invoice_json(invoice, days_overdue=store.days_overdue_now(invoice, datetime.now(UTC), zone))


@routes.post(
    "/v1/invoices",
    "Register an invoice and start its workflow (a repeat of the same body under its number answers 200)",
    ok={"201": "registered", "200": "the same invoice, registered before"},
    errors={"409": "another invoice has this number, or another of yours this external_id"},
    body=InvoiceCreate,
    result=InvoiceOut,
)
async def create(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    body = await parse_json_body(request, InvoiceCreate)
    values = {**body.model_dump(), "status": InvoiceStatus(body.status)}
    try:
        invoice, created = await invoices.create_invoice(
            request.app[SESSIONS], request.app[TEMPORAL], business_id, values
        )
    except (store.InvoiceConflict, external_ids.ExternalIdTaken) as exc:
        raise conflict_error(exc) from exc
    return web.json_response(
        _json(invoice, await _zone(request, business_id)), status=201 if created else 200
    )


@routes.get(
    "/v1/invoices/by-external-id/{external_id}",
    "The invoice your id names",
    ok={"200": "invoice"},
    result=InvoiceOut,
)
async def get_by_external_id(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    found = await external_ids.invoice(
        request.app[SESSIONS], business_id, path_external_id(request, "invoice")
    )
    if found is None:
        raise ApiError(404, "not_found", "no such invoice")
    return web.json_response(_json(found, await _zone(request, business_id)))


@routes.get(
    "/v1/invoices",
    "Invoices by due date; ?status=overdue lists them in collection order with days_overdue; "
    "?updated_after= by their last change; page on with ?after=<next_cursor>",
    ok={"200": "items"},
    query=InvoiceListQuery,
)
async def list_(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    query = parse_query(request, InvoiceListQuery)
    try:
        rows, next_cursor = await invoices.list_invoices(
            request.app[SESSIONS],
            business_id,
            status=query.status,
            external_id=query.external_id,
            updated_after=query.updated_after,
            after=query.after,
            limit=query.limit,
        )
    except BadCursor as exc:
        raise cursor_error(exc) from exc
    zone = await _zone(request, business_id)
    return web.json_response(
        {"items": [_json(invoice, zone) for invoice in rows], "next_cursor": next_cursor}
    )


@routes.get(
    "/v1/invoices/{invoice_id}",
    "An invoice with its workflow's state (next moment and when, what happened)",
    ok={"200": "invoice"},
)
async def get(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    async with request.app[SESSIONS]() as session:
        invoice = await store.invoice_of(session, business_id, path_id(request, "invoice_id"))
    if invoice is None:
        raise ApiError(404, "not_found", "no such invoice")
    view = await query_or_none(request.app[TEMPORAL], invoice_workflow_id(invoice.id), InvoiceWorkflow.state)
    body = _json(invoice, await _zone(request, business_id))
    return web.json_response({**body, "workflow": view.model_dump(mode="json") if view else None})


Steer = Callable[[int, int], Awaitable[Invoice | None]]


async def _steered(request: web.Request, steer: Steer) -> web.Response:
    business_id = await require_business(request)
    try:
        invoice = await steer(business_id, path_id(request, "invoice_id"))
    except store.InvoiceConflict as exc:
        raise conflict_error(exc) from exc
    if invoice is None:
        raise ApiError(404, "not_found", "no such invoice")
    return web.json_response(_json(invoice, await _zone(request, business_id)))


@routes.post("/v1/invoices/{invoice_id}/send", "A draft is sent: its timeline starts", ok={"200": "invoice"})
async def send(request: web.Request) -> web.Response:
    sessions, client = request.app[SESSIONS], request.app[TEMPORAL]
    return await _steered(
        request, lambda business, invoice: invoices.send(sessions, client, business, invoice)
    )


@routes.post(
    "/v1/invoices/{invoice_id}/payment",
    "Record the payment: the workflow ends, nothing more is sent (a repeat changes nothing)",
    ok={"200": "invoice"},
    errors={"409": "the invoice was written off"},
)
async def pay(request: web.Request) -> web.Response:
    sessions, client = request.app[SESSIONS], request.app[TEMPORAL]
    return await _steered(
        request, lambda business, invoice: invoices.pay(sessions, client, business, invoice)
    )


@routes.post(
    "/v1/invoices/{invoice_id}/due-date",
    "A new due date: the timeline is planned again (overdue -> sent when the new date has not passed)",
    ok={"200": "invoice"},
    errors={"409": "the invoice is paid or written off"},
    body=InvoiceDueDate,
)
async def move_due_date(request: web.Request) -> web.Response:
    body = await parse_json_body(request, InvoiceDueDate)
    sessions, client = request.app[SESSIONS], request.app[TEMPORAL]
    return await _steered(
        request,
        lambda business, invoice: invoices.move_due_date(sessions, client, business, invoice, body.due_on),
    )


@routes.post(
    "/v1/invoices/{invoice_id}/write-off",
    "Write the invoice off: the workflow ends (a repeat changes nothing)",
    ok={"200": "invoice"},
    errors={"409": "the invoice is paid"},
    body=InvoiceWriteOff,
)
async def write_off(request: web.Request) -> web.Response:
    body = await parse_json_body(request, InvoiceWriteOff)
    sessions, client = request.app[SESSIONS], request.app[TEMPORAL]
    return await _steered(
        request,
        lambda business, invoice: invoices.write_off(sessions, client, business, invoice, body.reason),
    )
