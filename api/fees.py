"""No-show fees (``GET /v1/fees``, mark paid, waive): what the business's payment code charges."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal

from aiohttp import web
from pydantic import Field

from api.auth import require_business
from api.businesses import path_id
from api.errors import ApiError, conflict_error, parse_json_body
from api.keys import SESSIONS
from api.openapi import RouteTable
from api.queries import Query, parse_query
from api.resources import FeeOut
from api.schemas import Strict
from domain.limits import DbId
from services import fees

routes = RouteTable("fees")


class FeeListQuery(Query):
    status: Literal["pending", "paid", "waived"] | None = None
    appointment_id: DbId | None = None
    after: DbId | None = Field(default=None, description="the last fee id of the page before")
    limit: int = Field(default=100, ge=1, le=500, description="at most this many items")


class FeePaid(Strict):
    reference: str | None = Field(
        default=None, min_length=1, max_length=200, pattern=r"^[^\x00-\x1f]+$", description="your charge's id"
    )


class FeeWaive(Strict):
    reason: str | None = Field(default=None, min_length=1, max_length=500, pattern=r"^[^\x00]+$")


def fee_json(fee: fees.Fee) -> dict[str, Any]:
    return FeeOut.model_validate(
        {
            "id": fee.id,
            "appointment_id": fee.appointment_id,
            "customer_id": fee.customer_id,
            "kind": fee.kind,
            "amount_cents": fee.amount_cents,
            "status": fee.status,
            "payment_reference": fee.payment_reference,
            "created_at": fee.created_at.isoformat(),
            "paid_at": fee.paid_at.isoformat() if fee.paid_at else None,
            "waived_at": fee.waived_at.isoformat() if fee.waived_at else None,
        }
    ).model_dump(mode="json")


@routes.get(
    "/v1/fees",
    "No-show fees in id order (?status=pending: what to charge; ?after=<last id> pages on)",
    ok={"200": "items and next_after"},
    query=FeeListQuery,
)
async def list_(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    query = parse_query(request, FeeListQuery)
    rows = await fees.list_fees(
        request.app[SESSIONS],
        business_id,
        status=query.status,
        appointment_id=query.appointment_id,
        after_id=query.after,
        limit=query.limit,
    )
    next_after = rows[-1].id if len(rows) == query.limit else None
    return web.json_response({"items": [fee_json(fee) for fee in rows], "next_after": next_after})


@routes.post(
    "/v1/fees/{fee_id}/paid",
    "Your payment system charged it (a repeat changes nothing; fee.paid once)",
    ok={"200": "fee"},
    errors={"409": "it was waived, or paid under another reference"},
    body=FeePaid,
    result=FeeOut,
)
async def paid(request: web.Request) -> web.Response:
    body = await parse_json_body(request, FeePaid)
    sessions = request.app[SESSIONS]
    return await _steered(
        request, lambda business, fee: fees.mark_paid(sessions, business, fee, body.reference)
    )


@routes.post(
    "/v1/fees/{fee_id}/waive",
    "Forgive it (a repeat changes nothing; fee.waived once)",
    ok={"200": "fee"},
    errors={"409": "it was paid"},
    body=FeeWaive,
    result=FeeOut,
)
async def waive(request: web.Request) -> web.Response:
    body = await parse_json_body(request, FeeWaive)
    sessions = request.app[SESSIONS]
    return await _steered(request, lambda business, fee: fees.waive(sessions, business, fee, body.reason))


Steer = Callable[[int, int], Awaitable["fees.Fee | None"]]


async def _steered(request: web.Request, steer: Steer) -> web.Response:
    """One fee's change: 404 when the business has no such fee, 409 naming the field at fault."""
    business_id = await require_business(request)
    fee_id = path_id(request, "fee_id")
    try:
        fee = await steer(business_id, fee_id)
    except fees.FeeConflict as exc:
        raise conflict_error(exc) from exc
    if fee is None:
        raise ApiError(404, "not_found", "no such fee")
    return web.json_response(fee_json(fee))
