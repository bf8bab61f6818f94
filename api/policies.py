"""Policies: create, list, read with the workflow's state, change (the timeline moves), cancel, stop calls."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from api.auth import require_business
from api.businesses import path_external_id, path_id
from api.errors import ApiError, conflict_error, cursor_error, missing_reference, parse_json_body
from api.keys import SESSIONS, TEMPORAL
from api.openapi import RouteTable
from api.queries import PolicyListQuery, parse_query
from api.resources import PolicyDetail, PolicyList, PolicyOut
from api.schemas import PolicyCreate, PolicyUpdate
from api.serializers import call_json, policy_json
from db import policies, policy_queries
from db.models import Policy
from db.tenants import customer_of
from domain.ids import policy_workflow_id
from domain.pages import BadCursor
from domain.statuses import PolicyStatus
from keeptime.temporal_client import query_or_none
from services import external_ids
from services.policies import cancel_policy, register_policy, stop_policy_calls, update_policy
from workflows.policy import PolicyWorkflow

routes = RouteTable("policies")


@routes.post(
    "/v1/policies",
    "Create a policy; its workflow (policy-<id>) plans the renewal calls and the expiry",
    ok={"201": "policy"},
    errors={"404": "no such customer (customer_id)", "409": "policy_number or external_id taken"},
    body=PolicyCreate,
    result=PolicyOut,
)
async def create_policy(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    body = await parse_json_body(request, PolicyCreate)
    async with request.app[SESSIONS]() as session:
        if await customer_of(session, business_id, body.customer_id) is None:
            raise missing_reference("customer_id", "no such customer")
    try:
        policy = await register_policy(
            request.app[SESSIONS], request.app[TEMPORAL], business_id, body.model_dump()
        )
    except policies.PolicyNumberTaken as exc:  # the UNIQUE constraint decides, races included
        raise ApiError(409, "conflict", "a policy with this policy_number exists") from exc
    except external_ids.ExternalIdTaken as exc:
        raise conflict_error(exc) from exc
    return web.json_response(policy_json(policy), status=201)


@routes.get(
    "/v1/policies/by-external-id/{external_id}",
    "The policy your id names",
    ok={"200": "policy"},
    result=PolicyOut,
)
async def get_policy_by_external_id(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    found = await external_ids.policy(request.app[SESSIONS], business_id, path_external_id(request, "policy"))
    if found is None:
        raise ApiError(404, "not_found", "no such policy")
    return web.json_response(policy_json(found))


@routes.get(
    "/v1/policies",
    "Policies, soonest end date first (?status=&customer_id=&external_id=&limit=), or by their last change "
    "(?updated_after=); page on with ?after=<next_cursor>",
    ok={"200": "items"},
    result=PolicyList,
    query=PolicyListQuery,
)
async def list_policies(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    query = parse_query(request, PolicyListQuery)
    try:
        async with request.app[SESSIONS]() as session:
            rows, next_cursor = await policy_queries.list_policies(
                session,
                business_id,
                PolicyStatus(query.status) if query.status else None,
                query.limit,
                customer_id=query.customer_id,
                external_id=query.external_id,
                updated_after=query.updated_after,
                after=query.after,
            )
    except BadCursor as exc:
        raise cursor_error(exc) from exc
    return web.json_response({"items": [policy_json(p) for p in rows], "next_cursor": next_cursor})


@routes.get(
    "/v1/policies/{policy_id}",
    "A policy with its calls and its workflow's state (phase, next call and why)",
    ok={"200": "policy"},
    result=PolicyDetail,
)
async def get_policy(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    async with request.app[SESSIONS]() as session:
        policy = await policies.policy_of(session, business_id, path_id(request, "policy_id"))
        if policy is None:
            raise ApiError(404, "not_found", "no such policy")
        calls = await policy_queries.calls_of_policy(session, policy.id)
    view = await query_or_none(request.app[TEMPORAL], policy_workflow_id(policy.id), PolicyWorkflow.state)
    return web.json_response(
        {
            **policy_json(policy),
            "workflow": view.model_dump(mode="json") if view else None,
            "calls": [call_json(c) for c in calls],
        }
    )


@routes.patch(
    "/v1/policies/{policy_id}",
    "Change an active policy; a new end_date moves its calls and expiry",
    ok={"200": "policy"},
    errors={"409": "not active, or another policy of yours has this external_id"},
    body=PolicyUpdate,
    result=PolicyOut,
)
async def patch_policy(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    policy_id = path_id(request, "policy_id")
    body = await parse_json_body(request, PolicyUpdate)
    try:
        policy = await update_policy(
            request.app[SESSIONS],
            request.app[TEMPORAL],
            business_id,
            policy_id,
            body.model_dump(exclude_unset=True),
        )
    except policies.PolicyNotActive as exc:
        raise ApiError(409, "conflict", str(exc)) from exc
    except external_ids.ExternalIdTaken as exc:
        raise conflict_error(exc) from exc
    return _found(policy)


@routes.post(
    "/v1/policies/{policy_id}/cancel",
    "Cancel the policy: no more calls, its workflow ends",
    ok={"200": "policy"},
    result=PolicyOut,
)
async def cancel(request: web.Request) -> web.Response:
    """Cancel the row and its scheduled calls, then end its workflow (signal ``cancel``)."""
    return await _act(request, cancel_policy)


@routes.post(
    "/v1/policies/{policy_id}/stop-calls",
    "No more calls this term; the policy still renews or expires",
    ok={"200": "policy"},
    result=PolicyOut,
)
async def stop_calls(request: web.Request) -> web.Response:
    """No more calls this term (signal ``refresh`` after the row says so)."""
    return await _act(request, stop_policy_calls)


async def _act(request: web.Request, action: Callable[..., Awaitable[Policy | None]]) -> web.Response:
    business_id = await require_business(request)
    policy_id = path_id(request, "policy_id")
    return _found(await action(request.app[SESSIONS], request.app[TEMPORAL], business_id, policy_id))


def _found(policy: Policy | None) -> web.Response:
    if policy is None:
        raise ApiError(404, "not_found", "no such policy")
    return web.json_response(policy_json(policy))
