"""Webhook endpoints (``/v1/webhook-endpoints``): where the business's events are pushed, signed
(services.webhooks; docs/webhooks.md)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal, TypeVar

from aiohttp import web
from pydantic import Field, field_validator

from api.auth import require_business
from api.businesses import path_id
from api.errors import ApiError, conflict_error, inconsistent_error, parse_json_body
from api.idempotency import idempotency_key
from api.keys import SESSIONS, SETTINGS
from api.openapi import RouteTable
from api.queries import Query, parse_query
from api.resources import WebhookAttemptOut, WebhookDeliveryOut, WebhookEndpointOut
from api.schemas import Strict
from domain.events import EventType
from domain.limits import DbId, Instant
from domain.webhooks import URL_MAX, BadTarget
from services import webhooks

routes = RouteTable("webhooks")

_ENDPOINT_PATH = "/v1/webhook-endpoints/{endpoint_id}"
_Description = Field(default=None, min_length=1, max_length=500, pattern=r"^[^\x00]+$")
_Types = Field(
    default=None,
    min_length=1,
    max_length=100,
    description="only these event types (none: every type); docs/events.md lists them",
    json_schema_extra={"uniqueItems": True},
)
_Url = Field(min_length=1, max_length=URL_MAX, description="https:// (http and loopback only in development)")


def _distinct(values: list[str] | None) -> list[str] | None:
    if values is not None and len(set(values)) != len(values):
        raise ValueError("items must be distinct")
    return values


class EndpointCreate(Strict):
    url: str = _Url
    description: str | None = _Description
    event_types: list[EventType] | None = _Types
    enabled: bool = True

    _types_distinct = field_validator("event_types")(_distinct)


class EndpointPatch(Strict):
    url: str | None = Field(
        default=None, min_length=1, max_length=URL_MAX, description="leave it out to keep it (null: 422)"
    )
    description: str | None = _Description
    event_types: list[EventType] | None = _Types
    enabled: bool | None = Field(default=None, description="true again after a fix: delivery resumes")

    _types_distinct = field_validator("event_types")(_distinct)


class Replay(Strict):
    """One event (``event_id``), or the events created in ``[since, until)`` (at most 30 days apart; else
    422 inconsistent)."""

    event_id: str | None = Field(default=None, pattern=r"^evt_[1-9][0-9]{0,17}$")
    since: Instant | None = None
    until: Instant | None = None


class PageQuery(Query):
    after: DbId | None = Field(default=None, description="the last id of the page before")
    limit: int = Field(default=100, ge=1, le=500)


class LogQuery(Query):
    after: DbId | None = Field(default=None, description="the last (oldest) attempt id of the page before")
    limit: int = Field(default=100, ge=1, le=500)


class DeliveryQuery(PageQuery):
    state: Literal["pending", "delivered", "failed"] | None = None


def _endpoint_json(row: webhooks.Endpoint, *, with_secret: bool) -> dict[str, Any]:
    return WebhookEndpointOut.model_validate(
        {
            "id": row.id,
            "url": row.url,
            "description": row.description,
            "event_types": row.event_types,
            "enabled": row.enabled,
            "disabled_reason": row.disabled_reason,
            "failing_since": row.failing_since.isoformat() if row.failing_since else None,
            "secret": row.secret if with_secret else None,
            "previous_secret_expires_at": (
                row.previous_secret_expires_at.isoformat() if row.previous_secret_expires_at else None
            ),
            "created_at": row.created_at.isoformat(),
            "updated_at": row.updated_at.isoformat(),
        }
    ).model_dump(mode="json")


Row = TypeVar("Row", webhooks.Endpoint, webhooks.Attempt, webhooks.Delivery)


def _page(rows: list[Row], limit: int) -> tuple[list[Row], int | None]:
    """A page of rows read with one more than ``limit``: the page, and the id to continue after (None:
    the last page)."""
    page = rows[:limit]
    return page, page[-1].id if len(rows) > limit else None


def _target_error(exc: BadTarget) -> ApiError:
    """A URL Keeptime does not deliver to (scheme, credentials, where its host resolves): 422 inconsistent,
    a rule the document's schema cannot state."""
    return inconsistent_error("url", str(exc))


@routes.post(
    "/v1/webhook-endpoints",
    "Register a URL to receive your events, signed; the answer shows its secret (keep it: it is not "
    "shown again)",
    ok={"201": "registered, with secret", "200": "the endpoint this same body registered, with secret"},
    errors={"409": "another endpoint of yours has this URL"},
    body=EndpointCreate,
    result=WebhookEndpointOut,
)
async def create(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    body = await parse_json_body(request, EndpointCreate)
    values = body.model_dump()
    try:
        row, created = await webhooks.create(
            request.app[SESSIONS], request.app[SETTINGS], business_id, values
        )
    except BadTarget as exc:
        raise _target_error(exc) from exc
    except webhooks.EndpointConflict as exc:
        raise conflict_error(exc) from exc
    return web.json_response(_endpoint_json(row, with_secret=True), status=201 if created else 200)


@routes.get(
    "/v1/webhook-endpoints",
    "Your webhook endpoints in id order (?after=<last id> pages on)",
    ok={"200": "items and next_after"},
    query=PageQuery,
)
async def list_(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    query = parse_query(request, PageQuery)
    rows = await webhooks.list_endpoints(request.app[SESSIONS], business_id, query.after, query.limit + 1)
    page, next_after = _page(rows, query.limit)
    return web.json_response(
        {"items": [_endpoint_json(row, with_secret=False) for row in page], "next_after": next_after}
    )


@routes.get(_ENDPOINT_PATH, "One webhook endpoint", ok={"200": "endpoint"}, result=WebhookEndpointOut)
async def get(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    row = await webhooks.get(request.app[SESSIONS], business_id, path_id(request, "endpoint_id"))
    if row is None:
        raise ApiError(404, "not_found", "no such endpoint")
    return web.json_response(_endpoint_json(row, with_secret=False))


@routes.patch(
    _ENDPOINT_PATH,
    "Change the URL, description, event types, or enable it again (a repeat changes nothing more)",
    ok={"200": "endpoint"},
    errors={"409": "another endpoint of yours has this URL"},
    body=EndpointPatch,
    result=WebhookEndpointOut,
)
async def patch(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    endpoint_id = path_id(request, "endpoint_id")
    body = await parse_json_body(request, EndpointPatch)
    changes = body.model_dump(exclude_unset=True)
    for name in ("url", "enabled"):
        if name in changes and changes[name] is None:
            raise inconsistent_error(name, "may be left out, not null")
    try:
        row = await webhooks.update(
            request.app[SESSIONS], request.app[SETTINGS], business_id, endpoint_id, changes
        )
    except BadTarget as exc:
        raise _target_error(exc) from exc
    except webhooks.EndpointConflict as exc:
        raise conflict_error(exc) from exc
    if row is None:
        raise ApiError(404, "not_found", "no such endpoint")
    return web.json_response(_endpoint_json(row, with_secret=False))


@routes.delete(
    _ENDPOINT_PATH, "Remove it (what it had still to receive is dropped)", empty={"204": "removed"}
)
async def remove(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    if not await webhooks.remove(request.app[SESSIONS], business_id, path_id(request, "endpoint_id")):
        raise ApiError(404, "not_found", "no such endpoint")
    return web.Response(status=204)


@routes.post(
    _ENDPOINT_PATH + "/rotate-secret",
    "A new secret; the old one keeps signing beside it for 24 h. Send Idempotency-Key: a repeat with it "
    "rotates nothing and answers the same secret",
    ok={"200": "endpoint, with the new secret"},
    result=WebhookEndpointOut,
)
async def rotate(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    endpoint_id = path_id(request, "endpoint_id")
    key = idempotency_key(request)
    row = await webhooks.rotate(request.app[SESSIONS], business_id, endpoint_id, key)
    if row is None:
        raise ApiError(404, "not_found", "no such endpoint")
    return web.json_response(_endpoint_json(row, with_secret=True))


@routes.post(
    _ENDPOINT_PATH + "/replay",
    "Deliver again one event, or every event of a time range (receivers deduplicate by webhook-id)",
    ok={"202": "replayed: how many events go out again"},
    errors={"404": "no such endpoint, or no such event"},
    body=Replay,
)
async def replay(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    endpoint_id = path_id(request, "endpoint_id")
    body = await parse_json_body(request, Replay)
    if (body.event_id is None) == (body.since is None or body.until is None):
        raise inconsistent_error("event_id", "send event_id, or since and until")
    sessions = request.app[SESSIONS]
    try:
        if body.event_id is not None:
            count = await webhooks.replay(
                sessions, business_id, endpoint_id, event_ids=[int(body.event_id.removeprefix("evt_"))]
            )
            if count == 0:
                raise ApiError(404, "not_found", "no such event (or older than the feed keeps)")
        else:
            assert body.since is not None and body.until is not None
            if not body.since < body.until <= body.since + timedelta(days=30):
                raise inconsistent_error("until", "after since, and at most 30 days after it")
            count = await webhooks.replay(
                sessions, business_id, endpoint_id, since=body.since, until=body.until
            )
    except webhooks.TooManyToReplay as exc:
        raise inconsistent_error(exc.field, str(exc)) from exc
    if count is None:
        raise ApiError(404, "not_found", "no such endpoint")
    return web.json_response({"replayed": count}, status=202)


@routes.get(
    _ENDPOINT_PATH + "/attempts",
    "The delivery log: each attempt, newest first, with status code, latency and error",
    ok={"200": "items and next_after"},
    query=LogQuery,
)
async def attempts(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    query = parse_query(request, LogQuery)
    rows = await webhooks.attempts(
        request.app[SESSIONS], business_id, path_id(request, "endpoint_id"), query.after, query.limit + 1
    )
    if rows is None:
        raise ApiError(404, "not_found", "no such endpoint")
    page, next_after = _page(rows, query.limit)
    items = [
        WebhookAttemptOut.model_validate(
            {
                "id": row.id,
                "event_id": f"evt_{row.event_id}",
                "attempt": row.attempt,
                "at": row.at.isoformat(),
                "status_code": row.status_code,
                "latency_ms": row.latency_ms,
                "ok": row.ok,
                "error": row.error,
            }
        ).model_dump(mode="json")
        for row in page
    ]
    return web.json_response({"items": items, "next_after": next_after})


@routes.get(
    _ENDPOINT_PATH + "/deliveries",
    "Each event's delivery to this endpoint: pending (with its next attempt), delivered or failed",
    ok={"200": "items and next_after"},
    query=DeliveryQuery,
)
async def deliveries(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    query = parse_query(request, DeliveryQuery)
    rows = await webhooks.deliveries(
        request.app[SESSIONS],
        business_id,
        path_id(request, "endpoint_id"),
        query.state,
        query.after,
        query.limit + 1,
    )
    if rows is None:
        raise ApiError(404, "not_found", "no such endpoint")
    page, next_after = _page(rows, query.limit)
    items = [
        WebhookDeliveryOut.model_validate(
            {
                "id": row.id,
                "event_id": f"evt_{row.event_id}",
                "entity": f"{row.entity_type}:{row.entity_id}",
                "state": row.state,
                "attempts": row.attempts,
                "next_attempt_at": row.next_attempt_at.isoformat() if row.state == "pending" else None,
                "delivered_at": row.delivered_at.isoformat() if row.delivered_at else None,
                "last_status": row.last_status,
                "last_error": row.last_error,
            }
        ).model_dump(mode="json")
        for row in page
    ]
    return web.json_response({"items": items, "next_after": next_after})
