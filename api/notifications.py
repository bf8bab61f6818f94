"""Notifications: the timeline, single sends, broadcasts, and a business's template overrides."""

from __future__ import annotations

import asyncio

from aiohttp import web
from temporalio.client import WorkflowExecutionStatus
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from activities.templates import validate_override
from api.auth import require_business
from api.businesses import path_id
from api.errors import ApiError, inconsistent_error, missing_reference, parse_json_body
from api.keys import SESSIONS, TEMPORAL
from api.openapi import RouteTable
from api.queries import NotificationListQuery, parse_query
from api.resources import BroadcastOut, NotificationPage
from api.schemas import BroadcastCreate, SingleNotification, TemplateOverrideBody
from api.serializers import broadcast_json, notification_json, override_json
from db import notification_queries as queries
from db.models import Broadcast
from db.tenants import customer_of, foreign_customer_ids
from domain.ids import broadcast_workflow_id, single_notification_workflow_id
from domain.notification_events import CHANNELS, EVENTS, TEMPLATE_PARTS
from domain.notification_types import (
    BroadcastInput,
    BroadcastStatus,
    NotificationRequest,
    SendNotificationInput,
)
from domain.statuses import NotificationStatus
from domain.task_queues import NOTIFICATIONS
from workflows.broadcast import BroadcastWorkflow
from workflows.notification import NotificationWorkflow

routes = RouteTable("notifications")

_SINGLE_WAIT_S = 20.0
_STATUSES = {s.value for s in NotificationStatus}


@routes.get(
    "/v1/notifications",
    "The notification timeline: ?entity=appointment:123&status=&customer_id=&limit=&before_id=",
    ok={"200": "items, newest first"},
    result=NotificationPage,
    query=NotificationListQuery,
)
async def list_notifications(request: web.Request) -> web.Response:
    """``GET /v1/notifications?entity=appointment:123&status=sent&customer_id=&limit=&before_id=``"""
    business_id = await require_business(request)
    query = parse_query(request, NotificationListQuery)
    entity_type, _, raw_id = (query.entity or "").partition(":")
    async with request.app[SESSIONS]() as session:
        rows = await queries.timeline(
            session,
            business_id,
            entity_type=entity_type or None,
            entity_id=int(raw_id) if raw_id else None,
            status=query.status.value if query.status else None,
            customer_id=query.customer_id,
            before_id=query.before_id,
            limit=query.limit,
        )
    items = [notification_json(r) for r in rows]
    return web.json_response({"items": items, "next_before_id": items[-1]["id"] if items else None})


@routes.post(
    "/v1/notifications",
    "Send one message to one customer",
    ok={"200": "the outcome", "202": "scheduled or still sending"},
    errors={"404": "no such customer (customer_id)"},
    body=SingleNotification,
)
async def send_single(request: web.Request) -> web.Response:
    """One message to one customer now (or at ``planned_for``): a one-recipient broadcast, sent once."""
    business_id = await require_business(request)
    body = await parse_json_body(request, SingleNotification)
    async with request.app[SESSIONS]() as session:
        if await customer_of(session, business_id, body.customer_id) is None:
            raise missing_reference("customer_id", "no such customer")
        broadcast = await queries.create_broadcast(
            session, business_id, body.subject, body.body, [body.customer_id]
        )
    notification = NotificationRequest(
        business_id=business_id,
        entity_type="broadcast",
        entity_id=broadcast.id,
        event="broadcast.message",
        customer_id=body.customer_id,
    )
    workflow_id = single_notification_workflow_id(broadcast.id)
    handle = await request.app[TEMPORAL].start_workflow(
        NotificationWorkflow.run,
        SendNotificationInput(request=notification, planned_for=body.planned_for),
        id=workflow_id,
        task_queue=NOTIFICATIONS,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        static_summary=f"Notification to customer {body.customer_id} (broadcast {broadcast.id})",
    )
    if body.planned_for is None:
        try:
            async with asyncio.timeout(_SINGLE_WAIT_S):
                result = await handle.result()
            return web.json_response({"workflow_id": workflow_id, **result.model_dump(mode="json")})
        except TimeoutError:
            pass
    return web.json_response({"workflow_id": workflow_id, "status": "scheduled"}, status=202)


@routes.post(
    "/v1/broadcasts",
    "Send one message to many customers",
    ok={"202": "started"},
    errors={"404": "no such customers (customer_ids)"},
    body=BroadcastCreate,
    result=BroadcastOut,
)
async def create_broadcast(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    body = await parse_json_body(request, BroadcastCreate)
    async with request.app[SESSIONS]() as session:
        foreign = await foreign_customer_ids(session, business_id, body.customer_ids or [])
        if foreign:
            shown = ", ".join(str(i) for i in foreign[:10]) + (" ..." if len(foreign) > 10 else "")
            raise missing_reference("customer_ids", f"no such customers: {shown}")
        broadcast = await queries.create_broadcast(
            session, business_id, body.subject, body.body, body.customer_ids
        )
    await request.app[TEMPORAL].start_workflow(
        BroadcastWorkflow.run,
        BroadcastInput(broadcast_id=broadcast.id, business_id=business_id, rate_per_s=body.rate_per_s),
        id=broadcast_workflow_id(broadcast.id),
        task_queue=NOTIFICATIONS,
        static_summary=f"Broadcast {broadcast.id} to {broadcast.recipient_count} customers",
    )
    return web.json_response(broadcast_json(broadcast), status=202)


@routes.get(
    "/v1/broadcasts/{broadcast_id}",
    "A broadcast's progress or report",
    ok={"200": "broadcast"},
    result=BroadcastOut,
)
async def get_broadcast(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    # Ask the workflow before reading the row: it stores its report before it reports a final state,
    # so the row read afterwards is never older than the live answer.
    live = await _live_broadcast(request, broadcast_workflow_id(path_id(request, "broadcast_id")))
    broadcast = await _stored_broadcast(request, business_id)
    document = broadcast_json(broadcast)
    if live is not None and broadcast.status == "running":
        document["progress"] = live.progress.model_dump()
        document["status"] = live.state
    return web.json_response(document)


@routes.post(
    "/v1/broadcasts/{broadcast_id}/cancel",
    "Stop a broadcast",
    ok={"202": "cancelling"},
    errors={"409": "already finished"},
)
async def cancel_broadcast(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    broadcast = await _stored_broadcast(request, business_id)
    if broadcast.status != "running":
        raise ApiError(409, "conflict", f"the broadcast is already {broadcast.status}")
    try:
        await request.app[TEMPORAL].get_workflow_handle(broadcast_workflow_id(broadcast.id)).cancel()
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        # It finished between the row read and the cancel (found by the API fuzzer): the row says how.
        finished = await _stored_broadcast(request, business_id)
        state = "has no running workflow" if finished.status == "running" else f"is already {finished.status}"
        raise ApiError(409, "conflict", f"the broadcast {state}") from exc
    return web.json_response({"id": broadcast.id, "status": "cancelling"}, status=202)


async def _stored_broadcast(request: web.Request, business_id: int) -> Broadcast:
    async with request.app[SESSIONS]() as session:
        broadcast = await queries.broadcast_of(session, business_id, path_id(request, "broadcast_id"))
    if broadcast is None:
        raise ApiError(404, "not_found", "no such broadcast")
    return broadcast


async def _live_broadcast(request: web.Request, workflow_id: str) -> BroadcastStatus | None:
    """The running workflow's own progress, or None once it has finished (the stored row stands)."""
    handle = request.app[TEMPORAL].get_workflow_handle(workflow_id)
    try:
        if (await handle.describe()).status != WorkflowExecutionStatus.RUNNING:
            return None
        status: BroadcastStatus = await handle.query(BroadcastWorkflow.progress)
    except RPCError:
        return None  # not started, cleaned up, or Temporal briefly away: the stored row stands
    return status


def _template_path(request: web.Request) -> tuple[str, str, str]:
    event, channel, part = (request.match_info[k] for k in ("event", "channel", "part"))
    if event not in EVENTS:
        raise ApiError(404, "not_found", f"unknown event {event!r}; known: {sorted(EVENTS)}")
    if channel not in CHANNELS:
        raise ApiError(404, "not_found", f"unknown channel {channel!r}; known: {list(CHANNELS)}")
    if part not in TEMPLATE_PARTS[channel]:  # /v1/templates/<event>/sms/subject names no template part
        parts = list(TEMPLATE_PARTS[channel])
        raise ApiError(404, "not_found", f"{channel} templates have the parts {parts}")
    return event, channel, part


@routes.get("/v1/templates", "This business's template overrides", ok={"200": "overrides"}, tag="templates")
async def list_templates(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    async with request.app[SESSIONS]() as session:
        rows = await queries.list_overrides(session, business_id)
    return web.json_response({"overrides": [override_json(r) for r in rows], "events": sorted(EVENTS)})


@routes.put(
    "/v1/templates/{event}/{channel}/{part}",
    "Override one part (subject, text, html) of a template; validated by rendering it",
    ok={"200": "saved"},
    tag="templates",
    body=TemplateOverrideBody,
)
async def put_template(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    event, channel, part = _template_path(request)
    body = await parse_json_body(request, TemplateOverrideBody)
    try:
        validate_override(event, channel, part, body.body)
    except ValueError as exc:  # a template that does not render: no schema can say which do
        raise inconsistent_error("body", str(exc)) from exc
    async with request.app[SESSIONS]() as session:
        await queries.put_override(session, business_id, event, channel, part, body.body)
    return web.json_response({"event": event, "channel": channel, "part": part, "body": body.body})


@routes.delete(
    "/v1/templates/{event}/{channel}/{part}",
    "Back to the default template",
    empty={"204": "removed"},
    tag="templates",
)
async def delete_template(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    event, channel, part = _template_path(request)
    async with request.app[SESSIONS]() as session:
        if not await queries.delete_override(session, business_id, event, channel, part):
            raise ApiError(404, "not_found", "no override for that template part")
    return web.Response(status=204)
