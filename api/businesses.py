"""Businesses (tenants) and their customers."""

from __future__ import annotations

from aiohttp import web

from api.auth import require_admin, require_business
from api.errors import ApiError, parse_json_body
from api.keys import SESSIONS
from api.schemas import BusinessCreate, BusinessUpdate, CustomerCreate, CustomerUpdate
from api.serializers import business_json, customer_json
from db import tenants
from db.models import Business
from db.tenants import create_business, customer_of


def path_id(request: web.Request, name: str) -> int:
    """An integer path parameter, or 404 (a malformed id names nothing)."""
    try:
        value = int(request.match_info[name])
    except ValueError:
        raise ApiError(404, "not_found", f"no such {name.removesuffix('_id')}") from None
    if value <= 0:
        raise ApiError(404, "not_found", f"no such {name.removesuffix('_id')}")
    return value


async def create(request: web.Request) -> web.Response:
    require_admin(request)
    body = await parse_json_body(request, BusinessCreate)
    async with request.app[SESSIONS]() as session:
        business, key = await create_business(session, {**body.model_dump(mode="json")})
    return web.json_response({"business": business_json(business), "api_key": key}, status=201)


async def me(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    async with request.app[SESSIONS]() as session:
        business = await session.get(Business, business_id)
    assert business is not None
    return web.json_response(business_json(business))


async def update_me(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    body = await parse_json_body(request, BusinessUpdate)
    async with request.app[SESSIONS]() as session:
        business = await tenants.update_business(
            session, business_id, body.model_dump(mode="json", exclude_unset=True)
        )
    return web.json_response(business_json(business))


async def create_customer(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    body = await parse_json_body(request, CustomerCreate)
    values = {k: v for k, v in body.model_dump(mode="json").items() if v is not None}
    async with request.app[SESSIONS]() as session:
        customer = await tenants.create_customer(session, business_id, values)
    return web.json_response(customer_json(customer), status=201)


async def get_customer(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    async with request.app[SESSIONS]() as session:
        customer = await customer_of(session, business_id, path_id(request, "customer_id"))
    if customer is None:
        raise ApiError(404, "not_found", "no such customer")
    return web.json_response(customer_json(customer))


async def update_customer(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    body = await parse_json_body(request, CustomerUpdate)
    async with request.app[SESSIONS]() as session:
        customer = await customer_of(session, business_id, path_id(request, "customer_id"))
        if customer is None:
            raise ApiError(404, "not_found", "no such customer")
        await tenants.update_customer(session, customer, body.model_dump(mode="json", exclude_unset=True))
    return web.json_response(customer_json(customer))
