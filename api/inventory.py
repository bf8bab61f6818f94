"""Inventory items and movements; a shortage is told when a movement crosses below the threshold."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web
from pydantic import Field

from api.auth import require_business
from api.businesses import path_id
from api.errors import ApiError, conflict_error, parse_json_body
from api.keys import SESSIONS
from api.openapi import RouteTable
from api.queries import Query, parse_query
from api.resources import InventoryItemOut
from api.schemas import InventoryItemCreate, InventoryMovementCreate
from api.serializers import inventory_item_json
from db import inventory

routes = RouteTable("inventory")


class InventoryListQuery(Query):
    short: bool = Field(default=False, description="only items below their threshold")


@routes.post(
    "/v1/inventory",
    "Add an inventory item (one that starts below its threshold is told at once)",
    ok={"201": "item", "200": "the same item, added before by this body (as it is now)"},
    errors={"409": "another item has this name"},
    body=InventoryItemCreate,
    result=InventoryItemOut,
)
async def add_item(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    body = await parse_json_body(request, InventoryItemCreate)
    async with request.app[SESSIONS]() as session:
        try:
            added = await inventory.add_item(session, business_id, body.model_dump(), datetime.now(UTC))
        except inventory.InventoryConflict as exc:
            raise conflict_error(exc) from exc
    return web.json_response(inventory_item_json(added.item), status=201 if added.created else 200)


@routes.get(
    "/v1/inventory",
    "The company's items (?short=true: only short ones)",
    ok={"200": "items"},
    query=InventoryListQuery,
)
async def list_items(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    query = parse_query(request, InventoryListQuery)
    async with request.app[SESSIONS]() as session:
        rows = await inventory.items(session, business_id, short_only=query.short)
    return web.json_response({"items": [inventory_item_json(item) for item in rows]})


@routes.post(
    "/v1/inventory/{item_id}/movements",
    "Receive (+) or use (-) stock; a repeated reference moves it once; crossing below the threshold tells "
    "admins and PMs once",
    ok={"201": "moved", "200": "this reference moved it before"},
    errors={"409": "not enough stock, or the reference was used with another delta"},
    body=InventoryMovementCreate,
)
async def move(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    body = await parse_json_body(request, InventoryMovementCreate)
    async with request.app[SESSIONS]() as session:
        try:
            moved = await inventory.move(
                session,
                business_id,
                path_id(request, "item_id"),
                body.reference,
                body.delta,
                datetime.now(UTC),
            )
        except inventory.InventoryConflict as exc:
            raise conflict_error(exc) from exc
    if moved is None:
        raise ApiError(404, "not_found", "no such item")
    return web.json_response(inventory_item_json(moved.item), status=201 if moved.created else 200)
