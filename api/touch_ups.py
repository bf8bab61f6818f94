"""Touch-ups of projects: add (idempotent by reference), change priority or status, list a project's.
Three or more open high/urgent touch-ups on a project are told to admins and PMs, once per crossing."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from api.auth import require_business
from api.businesses import path_id
from api.errors import ApiError, parse_json_body
from api.keys import SESSIONS
from api.openapi import RouteTable
from api.resources import TouchUpOut
from api.schemas import TouchUpCreate, TouchUpUpdate
from api.serializers import touch_up_json
from db import daily_plans, touch_ups

routes = RouteTable("touch-ups")


@routes.post(
    "/v1/projects/{project_id}/touch-ups",
    "Add a touch-up (a repeated reference answers 200 with the first)",
    ok={"201": "added", "200": "this reference added it before"},
    errors={"409": "another touch-up has this reference"},
    body=TouchUpCreate,
    result=TouchUpOut,
)
async def add(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    body = await parse_json_body(request, TouchUpCreate)
    async with request.app[SESSIONS]() as session:
        try:
            saved = await touch_ups.create(
                session, business_id, path_id(request, "project_id"), body.model_dump(), datetime.now(UTC)
            )
        except touch_ups.TouchUpConflict as exc:
            raise ApiError(
                409, "conflict", str(exc), fields=[{"field": exc.field, "message": str(exc)}]
            ) from exc
    if saved is None:
        raise ApiError(404, "not_found", "no such project")
    return web.json_response(touch_up_json(saved.touch_up), status=201 if saved.created else 200)


@routes.get(
    "/v1/projects/{project_id}/touch-ups", "A project's touch-ups, open ones first", ok={"200": "items"}
)
async def list_(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    project_id = path_id(request, "project_id")
    async with request.app[SESSIONS]() as session:
        if await daily_plans.project_of(session, business_id, project_id) is None:
            raise ApiError(404, "not_found", "no such project")
        rows = await touch_ups.of_project(session, business_id, project_id)
    return web.json_response({"items": [touch_up_json(t) for t in rows]})


@routes.patch(
    "/v1/touch-ups/{touch_up_id}",
    "Change a touch-up's priority or status (done); the project's alert is checked again",
    ok={"200": "touch-up"},
    body=TouchUpUpdate,
)
async def change(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    body = await parse_json_body(request, TouchUpUpdate)
    changes = body.model_dump(exclude_unset=True)
    async with request.app[SESSIONS]() as session:
        touch_up = await touch_ups.update(
            session, business_id, path_id(request, "touch_up_id"), changes, datetime.now(UTC)
        )
    if touch_up is None:
        raise ApiError(404, "not_found", "no such touch-up")
    return web.json_response(touch_up_json(touch_up))
