"""Construction daily plans: create, read with the workflow's state, submit (projects: api/projects.py)."""

from __future__ import annotations

from aiohttp import web

from api.auth import require_business
from api.businesses import path_id
from api.errors import ApiError, missing_reference, parse_json_body
from api.keys import SESSIONS, TEMPORAL
from api.openapi import RouteTable
from api.resources import DailyPlanOut
from api.schemas import DailyPlanCreate
from api.serializers import daily_plan_json
from db import daily_plans as store
from domain.ids import daily_plan_workflow_id
from keeptime.temporal_client import query_or_none
from services.daily_plans import create_daily_plan, submit
from workflows.daily_plan import DailyPlanWorkflow

routes = RouteTable("daily plans")


@routes.post(
    "/v1/daily-plans",
    "A project's plan for a day, in draft; still a draft at the deadline (default 17:00 local) -> alert",
    ok={"201": "created", "200": "the plan this project has for the day"},
    errors={"404": "no such project (project_id)"},
    body=DailyPlanCreate,
    result=DailyPlanOut,
)
async def create(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    body = await parse_json_body(request, DailyPlanCreate)
    async with request.app[SESSIONS]() as session:
        if await store.project_of(session, business_id, body.project_id) is None:
            raise missing_reference("project_id", "no such project")
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
