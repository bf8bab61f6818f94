"""Pets and vaccination records: register, read with the workflow's state, list upcoming expiries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiohttp import web

from api.auth import require_business
from api.businesses import path_id
from api.errors import ApiError, cursor_error, missing_reference, parse_json_body
from api.keys import SESSIONS, TEMPORAL
from api.openapi import RouteTable
from api.queries import UpcomingVaccinationsQuery, parse_query
from api.resources import PetOut, VaccinationOut
from api.schemas import PetCreate, VaccinationCreate
from api.serializers import pet_json, vaccination_json
from db import pets
from db.tenants import customer_of
from domain.ids import vaccination_workflow_id
from domain.pages import BadCursor
from keeptime.temporal_client import query_or_none
from services.vaccinations import register_vaccination
from workflows.vaccination import VaccinationWorkflow

routes = RouteTable("vaccinations")


@routes.post(
    "/v1/pets",
    "Register a pet of a customer",
    ok={"201": "pet"},
    errors={"404": "no such customer (owner_id)"},
    body=PetCreate,
    result=PetOut,
)
async def create_pet(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    body = await parse_json_body(request, PetCreate)
    async with request.app[SESSIONS]() as session:
        if await customer_of(session, business_id, body.owner_id) is None:
            raise missing_reference("owner_id", "no such customer")
        pet = await pets.create_pet(session, business_id, body.model_dump())
    return web.json_response(pet_json(pet), status=201)


@routes.post(
    "/v1/vaccinations",
    "Register a vaccination record; supersedes the pet's active record of the same vaccine",
    ok={"201": "record"},
    errors={"404": "no such pet (pet_id)"},
    body=VaccinationCreate,
    result=VaccinationOut,
)
async def create_vaccination(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    body = await parse_json_body(request, VaccinationCreate)
    async with request.app[SESSIONS]() as session:
        if await pets.pet_of(session, business_id, body.pet_id) is None:
            raise missing_reference("pet_id", "no such pet")
    record = await register_vaccination(
        request.app[SESSIONS], request.app[TEMPORAL], business_id, body.model_dump()
    )
    return web.json_response(vaccination_json(record), status=201)


@routes.get(
    "/v1/vaccinations/{vaccination_id}",
    "A record with its workflow's state (next alert and when, what was sent)",
    ok={"200": "record"},
)
async def get_vaccination(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    async with request.app[SESSIONS]() as session:
        record = await pets.vaccination_of(session, business_id, path_id(request, "vaccination_id"))
    if record is None:
        raise ApiError(404, "not_found", "no such vaccination record")
    view = await query_or_none(
        request.app[TEMPORAL], vaccination_workflow_id(record.id), VaccinationWorkflow.state
    )
    return web.json_response(
        {**vaccination_json(record), "workflow": view.model_dump(mode="json") if view else None}
    )


@routes.get(
    "/v1/vaccinations/upcoming",
    "Active records expiring within ?within_days= (default 30), soonest first; page on with "
    "?after=<next_cursor>",
    ok={"200": "items"},
    query=UpcomingVaccinationsQuery,
)
async def upcoming(request: web.Request) -> web.Response:
    """``GET /v1/vaccinations/upcoming?within_days=30``: active records expiring soonest first."""
    business_id = await require_business(request)
    query = parse_query(request, UpcomingVaccinationsQuery)
    before = datetime.now(UTC) + timedelta(days=query.within_days)
    try:
        async with request.app[SESSIONS]() as session:
            rows, next_cursor = await pets.upcoming_expiries(
                session, business_id, before, query.limit, query.after
            )
    except BadCursor as exc:
        raise cursor_error(exc) from exc
    items = [{**vaccination_json(record), "pet": pet_json(pet)} for record, pet in rows]
    return web.json_response({"items": items, "next_cursor": next_cursor})
