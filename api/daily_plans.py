"""Construction projects and their daily plans: create, read with the workflow's state, submit."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from api.auth import require_business
from api.businesses import path_id
from api.errors import ApiError, field_error, parse_json_body
from api.keys import SESSIONS, TEMPORAL
from api.openapi import RouteTable
from api.resources import DailyPlanOut, ProjectOut
from api.schemas import DailyPlanCreate, ProjectCreate
from api.serializers import daily_plan_json, project_json
from db import daily_plans as store
from domain.ids import daily_plan_workflow_id
from keeptime.temporal_client import query_or_none
from services.daily_plans import create_daily_plan, submit
from workflows.daily_plan import DailyPlanWorkflow

routes = RouteTable("daily plans")


@routes.post("/v1/projects", "Add a project", ok={"201": "project"}, body=ProjectCreate, result=ProjectOut)
async def add_project(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    body = await parse_json_body(request, ProjectCreate)
    async with request.app[SESSIONS]() as session:
        project = await store.add_project(session, business_id, body.model_dump())
    return web.json_response(project_json(project), status=201)


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


@routes.post(
    "/v1/daily-plans",
    "A project's plan for a day, in draft; still a draft at the deadline (default 17:00 local) -> alert",
    ok={"201": "created", "200": "the plan this project has for the day"},
    body=DailyPlanCreate,
    result=DailyPlanOut,
)
async def create(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    body = await parse_json_body(request, DailyPlanCreate)
    async with request.app[SESSIONS]() as session:
        if await store.project_of(session, business_id, body.project_id) is None:
            raise field_error("project_id", "no such project")
    plan, created = await create_daily_plan(
        request.app[SESSIONS], request.app[TEMPORAL], business_id, body.project_id, body.plan_date
    )
    return web.json_response(daily_plan_json(plan), status=201 if created else 200)


@routes.get(
    "/v1/daily-plans/{plan_id}", "A plan with its workflow's state (deadline, outcome)", ok={"200": "plan"}
)
async def get(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    async with request.app[SESSIONS]() as session:
        plan = await store.plan_of(session, business_id, path_id(request, "plan_id"))
    if plan is None:
        raise ApiError(404, "not_found", "no such daily plan")
    view = await query_or_none(
        request.app[TEMPORAL], daily_plan_workflow_id(plan.id), DailyPlanWorkflow.state
    )
    return web.json_response(
        {**daily_plan_json(plan), "workflow": view.model_dump(mode="json") if view else None}
    )


@routes.post(
    "/v1/daily-plans/{plan_id}/submit",
    "Submit the plan: no alert at its deadline (a repeat changes nothing)",
    ok={"200": "plan"},
)
async def submit_plan(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    plan = await submit(
        request.app[SESSIONS], request.app[TEMPORAL], business_id, path_id(request, "plan_id")
    )
    if plan is None:
        raise ApiError(404, "not_found", "no such daily plan")
    return web.json_response(daily_plan_json(plan))
