"""The call scheduler's operator endpoints: config, pending customers, today's statistics, trigger-now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from api.auth import require_business
from api.errors import cursor_error, parse_json_body, parse_json_object, validate_merge_patch
from api.keys import SESSIONS, TEMPORAL
from api.openapi import RouteTable
from api.queries import PendingCallsQuery, parse_query
from api.resources import SchedulerConfigSaved
from api.schemas import TriggerCallsBody
from db import policies, policy_queries
from domain.call_config import CallSchedulerConfig
from domain.pages import BadCursor
from domain.policy_plan import local_day, local_day_ends
from services.policies import trigger_calls_now
from services.settings import change_call_config

routes = RouteTable("scheduler")


async def business_call_settings(
    request: web.Request, business_id: int
) -> tuple[ZoneInfo, CallSchedulerConfig]:
    """The authenticated business's time zone and call config."""
    async with request.app[SESSIONS]() as session:
        settings = await policies.call_settings(session, business_id)
    assert settings is not None  # require_business found the business
    return settings


@routes.get(
    "/v1/scheduler/config", "The call scheduler's settings", ok={"200": "config"}, result=CallSchedulerConfig
)
async def get_config(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    async with request.app[SESSIONS]() as session:
        config = await policies.call_config(session, business_id)
    return web.json_response(config.model_dump(mode="json"))


CONFIG_CHANGE: dict[str, Any] = {
    "ok": {"200": "config"},
    "patch": CallSchedulerConfig,
    "result": SchedulerConfigSaved,
}
MERGE_PATCH = (
    "Change settings as a JSON Merge Patch (RFC 7396): fields left out keep their values, null resets one "
    "to its default; running policy workflows re-plan"
)


@routes.put("/v1/scheduler/config", MERGE_PATCH, **CONFIG_CHANGE)
@routes.patch("/v1/scheduler/config", MERGE_PATCH, **CONFIG_CHANGE)
async def put_config(request: web.Request) -> web.Response:
    """A JSON Merge Patch (RFC 7396) of the config (PUT and PATCH alike): fields left out keep their values,
    ``null`` resets one to its default. Running policy workflows re-plan with the result."""
    business_id = await require_business(request)
    patch = await parse_json_object(request)
    async with request.app[SESSIONS]() as session:
        current = await policies.call_config(session, business_id)
    config = validate_merge_patch(CallSchedulerConfig, current.model_dump(mode="json"), patch)
    rollout = await change_call_config(request.app[SESSIONS], request.app[TEMPORAL], business_id, config)
    return web.json_response({**config.model_dump(mode="json"), "settings_rollout": rollout.model_dump()})


@routes.get(
    "/v1/scheduler/pending",
    "Customers who will be called within ?within_days= (default 7): who, why, when; page on with "
    "?after=<next_cursor>",
    ok={"200": "items"},
    query=PendingCallsQuery,
)
async def pending(request: web.Request) -> web.Response:
    """``GET /v1/scheduler/pending?within_days=7``: who will be called, why and when, soonest first."""
    business_id = await require_business(request)
    query = parse_query(request, PendingCallsQuery)
    within, limit = query.within_days, query.limit
    now = datetime.now(UTC)
    try:
        async with request.app[SESSIONS]() as session:
            rows, next_cursor = await policy_queries.pending_customers(
                session, business_id, now + timedelta(days=within), limit, query.after
            )
    except BadCursor as exc:
        raise cursor_error(exc) from exc
    zone, _ = await business_call_settings(request, business_id)
    today = local_day(now, zone)
    items = [
        {
            "policy_id": policy.id,
            "policy_number": policy.policy_number,
            "customer": {"id": customer.id, "name": customer.name, "phone": customer.phone},
            "end_date": policy.end_date.isoformat(),
            "days_to_expiry": (policy.end_date - today).days,
            "next_call_at": policy.next_call_at.isoformat() if policy.next_call_at else None,
            "reason": f"expires in {(policy.end_date - today).days} days"
            + (f"; {policy.call_attempts} unanswered call(s)" if policy.call_attempts else ""),
            "last_call_day": last.isoformat() if last else None,
        }
        for policy, customer, last in rows
    ]
    return web.json_response({"items": items, "next_cursor": next_cursor})


@routes.get(
    "/v1/scheduler/stats",
    "Today's calls (business-local day): scheduled, pending, in progress, completed, failed, next call",
    ok={"200": "statistics"},
)
async def stats(request: web.Request) -> web.Response:
    """``GET /v1/scheduler/stats``: today's calls (business-local day) and what is still planned."""
    business_id = await require_business(request)
    zone, config = await business_call_settings(request, business_id)
    now = datetime.now(UTC)
    async with request.app[SESSIONS]() as session:
        figures = await policy_queries.day_statistics(
            session, business_id, local_day(now, zone), now, local_day_ends(now, zone)
        )
    return web.json_response(
        {**figures, "enabled": config.enabled, "max_calls_per_day": config.max_calls_per_day}
    )


@routes.post(
    "/v1/scheduler/trigger",
    "Call now every policy planned up to within_days after today (the caps still apply)",
    ok={"202": "triggered policies"},
    body=TriggerCallsBody,
)
async def trigger(request: web.Request) -> web.Response:
    """``POST /v1/scheduler/trigger``: call now everyone planned up to ``within_days`` after today.

    The caps still apply: calls over the daily cap move to the next day, busy slots are waited for."""
    business_id = await require_business(request)
    body = await parse_json_body(request, TriggerCallsBody)
    zone, _ = await business_call_settings(request, business_id)
    day_ends = local_day_ends(datetime.now(UTC), zone)
    ids = await trigger_calls_now(
        request.app[SESSIONS], request.app[TEMPORAL], business_id, day_ends + timedelta(days=body.within_days)
    )
    return web.json_response({"triggered": len(ids), "policy_ids": ids}, status=202)
