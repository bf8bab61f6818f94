"""Construction projects: create (once per Idempotency-Key, optionally located), list, complete; their
site weather; who has access to them (members)."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import require_business
from api.businesses import path_external_id, path_id
from api.errors import ApiError, conflict_error, parse_json_body
from api.idempotency import idempotency_key
from api.keys import SESSIONS
from api.openapi import RouteTable
from api.resources import ProjectOut
from api.schemas import ProjectCreate
from api.serializers import project_json, staff_user_json, weather_json
from db import daily_plans as store
from db import weather as weather_store
from db.conflicts import FieldConflict
from services import external_ids

routes = RouteTable("projects")


async def _members(session: AsyncSession, project_id: int) -> web.Response:
    users = await store.members(session, project_id)
    return web.json_response({"items": [staff_user_json(user) for user in users]})


@routes.post(
    "/v1/projects",
    "Add a project; send Idempotency-Key to make retries safe",
    ok={"201": "project", "200": "the project this Idempotency-Key made"},
    errors={"409": "another project of yours has this external_id"},
    body=ProjectCreate,
    result=ProjectOut,
)
async def add_project(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    body = await parse_json_body(request, ProjectCreate)
    key = idempotency_key(request)
    try:
        async with request.app[SESSIONS]() as session:
            project, created = await store.add_project(session, business_id, body.model_dump(), key=key)
    except FieldConflict as exc:
        raise conflict_error(exc) from exc
    return web.json_response(project_json(project), status=201 if created else 200)


@routes.get(
    "/v1/projects/{project_id}/weather",
    "The site's weather by company-local day (the weather job's snapshots: today and the next two days)",
    ok={"200": "items"},
)
async def project_weather(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    project_id = path_id(request, "project_id")
    async with request.app[SESSIONS]() as session:
        if await store.project_of(session, business_id, project_id) is None:
            raise ApiError(404, "not_found", "no such project")
        rows = await weather_store.snapshots_of(session, business_id, project_id)
    return web.json_response({"items": [weather_json(row) for row in rows]})


@routes.get(
    "/v1/projects/{project_id}/members",
    "The staff users with access to the project (admins see every project without being listed)",
    ok={"200": "items"},
)
async def project_members(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    project_id = path_id(request, "project_id")
    async with request.app[SESSIONS]() as session:
        if await store.project_of(session, business_id, project_id) is None:
            raise ApiError(404, "not_found", "no such project")
        return await _members(session, project_id)


@routes.put(
    "/v1/projects/{project_id}/members/{staff_user_id}",
    "Give a staff user access: a PM hears of the project's touch-ups, a member gets its weekly digest",
    ok={"200": "the project's members"},
)
async def add_project_member(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    project_id = path_id(request, "project_id")
    async with request.app[SESSIONS]() as session:
        project = await store.add_member(session, business_id, project_id, path_id(request, "staff_user_id"))
        if project is None:
            raise ApiError(404, "not_found", "no such project or staff user")
        return await _members(session, project_id)


@routes.delete(
    "/v1/projects/{project_id}/members/{staff_user_id}",
    "Take a staff user's access away (a repeat changes nothing)",
    ok={"200": "the project's members"},
)
async def remove_project_member(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    project_id = path_id(request, "project_id")
    async with request.app[SESSIONS]() as session:
        found = await store.remove_member(session, business_id, project_id, path_id(request, "staff_user_id"))
        if not found:
            raise ApiError(404, "not_found", "no such project")
        return await _members(session, project_id)


@routes.post(
    "/v1/projects/{project_id}/complete",
    "Mark the project completed (the project-archive job archives it 90 days later); a repeat: no change",
    ok={"200": "project"},
)
async def complete_project(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    async with request.app[SESSIONS]() as session:
        project = await store.complete_project(
            session, business_id, path_id(request, "project_id"), datetime.now(UTC)
        )
    if project is None:
        raise ApiError(404, "not_found", "no such project")
    return web.json_response(project_json(project))


@routes.get("/v1/projects", "The company's projects", ok={"200": "items"})
async def list_projects(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    async with request.app[SESSIONS]() as session:
        rows = await store.projects(session, business_id)
    return web.json_response({"items": [project_json(project) for project in rows]})


@routes.get(
    "/v1/projects/by-external-id/{external_id}",
    "The project your id names",
    ok={"200": "project"},
    result=ProjectOut,
)
async def get_project_by_external_id(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    found = await external_ids.project(
        request.app[SESSIONS], business_id, path_external_id(request, "project")
    )
    if found is None:
        raise ApiError(404, "not_found", "no such project")
    return web.json_response(project_json(found))
