"""Renewal calls: schedule a manual call, list and cancel calls, take the voice agent's summary, clean up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiohttp import web

from api.auth import require_business
from api.businesses import path_id
from api.errors import ApiError, cursor_error, inconsistent_error, missing_reference, parse_json_body
from api.keys import SESSIONS, TEMPORAL
from api.openapi import RouteTable
from api.queries import CallListQuery, parse_query
from api.resources import CallList, CallOut
from api.schemas import CallCleanupBody, CallSummaryBody, ManualCallCreate
from api.serializers import call_json
from db import policies, policy_queries
from domain.pages import BadCursor
from domain.statuses import CallStatus
from services.policies import cancel_manual_call, record_call_summary, schedule_manual_call

routes = RouteTable("calls")


@routes.post(
    "/v1/calls",
    "Schedule a manual call (refused within skip_if_called_within_days of another call)",
    ok={"201": "call"},
    errors={"404": "no such policy (policy_id)", "409": "skip window or policy not active"},
    body=ManualCallCreate,
    result=CallOut,
)
async def schedule_call(request: web.Request) -> web.Response:
    """``POST /v1/calls``: a manual call at a chosen time; 409 within the skip window of another call."""
    business_id = await require_business(request)
    body = await parse_json_body(request, ManualCallCreate)
    if body.scheduled_for <= datetime.now(UTC):
        raise inconsistent_error("scheduled_for", "must be in the future")
    try:
        call = await schedule_manual_call(
            request.app[SESSIONS], request.app[TEMPORAL], business_id, body.policy_id, body.scheduled_for
        )
    except policies.CallNotAllowed as exc:
        raise ApiError(409, "conflict", str(exc)) from exc
    if call is None:
        raise missing_reference("policy_id", "no such policy")
    return web.json_response(call_json(call), status=201)


@routes.get(
    "/v1/calls",
    "Calls, newest first (?status=&policy_id=&from=&to=&limit=); page on with ?after=<next_cursor>",
    ok={"200": "items"},
    result=CallList,
    query=CallListQuery,
)
async def list_calls(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    query = parse_query(request, CallListQuery)
    where = policy_queries.CallFilter(
        status=CallStatus(query.status) if query.status else None,
        policy_id=query.policy_id,
        since=query.since,
        until=query.until,
    )
    try:
        async with request.app[SESSIONS]() as session:
            rows, next_cursor = await policy_queries.list_calls(
                session, business_id, where, query.limit, query.after
            )
    except BadCursor as exc:
        raise cursor_error(exc) from exc
    return web.json_response({"items": [call_json(c) for c in rows], "next_cursor": next_cursor})


@routes.delete(
    "/v1/calls/{call_id}",
    "Cancel a scheduled manual call",
    ok={"200": "call"},
    errors={"409": "already placed"},
    result=CallOut,
)
async def cancel_call(request: web.Request) -> web.Response:
    """``DELETE /v1/calls/{id}``: cancel a scheduled manual call; 409 once it has started."""
    business_id = await require_business(request)
    call = await cancel_manual_call(
        request.app[SESSIONS], request.app[TEMPORAL], business_id, path_id(request, "call_id")
    )
    if call is None:
        raise ApiError(404, "not_found", "no such call")
    if call.status != CallStatus.CANCELLED:
        raise ApiError(
            409, "conflict", f"the call is {call.status.value}; only scheduled calls can be cancelled"
        )
    return web.json_response(call_json(call))


@routes.put(
    "/v1/calls/{call_id}/summary",
    "The voice agent's call summary; renewal_agreed renews the policy (idempotent)",
    ok={"200": "call"},
    errors={"409": "call not answered"},
    body=CallSummaryBody,
    result=CallOut,
)
async def put_summary(request: web.Request) -> web.Response:
    """``PUT /v1/calls/{id}/summary``: the voice agent's summary; ``renewal_agreed`` renews the policy."""
    business_id = await require_business(request)
    call_id = path_id(request, "call_id")
    body = await parse_json_body(request, CallSummaryBody)
    try:
        call = await record_call_summary(
            request.app[SESSIONS],
            request.app[TEMPORAL],
            business_id,
            call_id,
            body.renewal_agreed,
            body.summary,
        )
    except policies.CallSummaryConflict as exc:
        raise ApiError(409, "conflict", str(exc)) from exc
    if call is None:
        raise ApiError(404, "not_found", "no such call")
    return web.json_response(call_json(call))


@routes.post(
    "/v1/calls/cleanup",
    "Delete finished call records older than older_than_days (default 30)",
    ok={"200": "deleted count"},
    body=CallCleanupBody,
)
async def cleanup_calls(request: web.Request) -> web.Response:
    """``POST /v1/calls/cleanup``: delete this business's finished call records older than N days."""
    business_id = await require_business(request)
    body = await parse_json_body(request, CallCleanupBody)
    before = datetime.now(UTC) - timedelta(days=body.older_than_days)
    async with request.app[SESSIONS]() as session:
        deleted = await policies.delete_finished_calls_before(session, business_id, before)
    return web.json_response({"deleted": deleted, "before": before.isoformat()})
