"""Businesses (tenants) and their customers."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web
from pydantic import TypeAdapter, ValidationError

from api.auth import require_admin, require_business
from api.errors import (
    ApiError,
    conflict_error,
    parse_json_body,
    parse_json_object,
    validate,
    validate_merge_patch,
)
from api.keys import SESSIONS, TEMPORAL
from api.openapi import RouteTable
from api.resources import BusinessCreated, BusinessOut, BusinessUpdated, CustomerOut, CustomerUpserted
from api.schemas import BusinessCreate, CustomerCreate, CustomerUpdate, CustomerUpsert
from api.serializers import business_json, customer_json, effective_automation
from db.models import Business
from db.tenants import create_business, customer_of
from domain.limits import MAX_DB_ID, ExternalId
from domain.preferences import Preferences
from domain.rollout_types import RolloutProgress
from services import customers
from services.settings import business_created, rollout_progress, update_business
from services.settings_preview import SettingsPreview, preview_settings

routes = RouteTable("businesses")


def path_id(request: web.Request, name: str) -> int:
    """An integer path parameter, or 404 (a malformed or out-of-range id names nothing)."""
    raw = request.match_info[name]
    value = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 19 else 0
    if not 1 <= value <= MAX_DB_ID:
        raise ApiError(404, "not_found", f"no such {name.removesuffix('_id')}")
    return value


@routes.post(
    "/v1/businesses",
    "Create a business; returns its first API key (shown once)",
    ok={"201": "the business and its API key"},
    body=BusinessCreate,
    result=BusinessCreated,
)
async def create(request: web.Request) -> web.Response:
    require_admin(request)
    body = await parse_json_body(request, BusinessCreate)
    async with request.app[SESSIONS]() as session:
        business, key = await create_business(session, {**body.model_dump(mode="json")})
    await business_created(request.app[TEMPORAL], business)
    return web.json_response({"business": business_json(business), "api_key": key}, status=201)


@routes.get(
    "/v1/businesses/me",
    "The calling business and its automation settings",
    ok={"200": "business"},
    result=BusinessOut,
)
async def me(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    async with request.app[SESSIONS]() as session:
        business = await session.get(Business, business_id)
    assert business is not None
    return web.json_response(business_json(business))


@routes.patch(
    "/v1/businesses/me",
    "Change name, time zone, admin e-mail, automation",
    ok={"200": "business, and the rollout that brings a change to sleeping workflows"},
    patch=BusinessCreate,
    result=BusinessUpdated,
)
async def update_me(request: web.Request) -> web.Response:
    """A JSON Merge Patch (RFC 7396) of the business: a field left out keeps its value, ``null`` resets it
    (``admin_email`` clears; an automation setting returns to its default); the result is validated whole."""
    business_id, merged = await _patched(request)
    business, rollout = await update_business(
        request.app[SESSIONS], request.app[TEMPORAL], business_id, merged.model_dump(mode="json")
    )
    body = {**business_json(business), "settings_rollout": rollout.model_dump() if rollout else None}
    return web.json_response(BusinessUpdated.model_validate(body).model_dump(mode="json"))


@routes.post(
    "/v1/businesses/me/automation/preview",
    "What a change of settings would do to the sleeping appointments, before it is applied",
    ok={"200": "how many appointments change, and a sample of the steps that move, appear or disappear"},
    patch=BusinessCreate,
    result=SettingsPreview,
)
async def preview_automation(request: web.Request) -> web.Response:
    """The body is the change you would ``PATCH /v1/businesses/me`` with (a merge patch): nothing is stored.
    Each sample step shows its local time (the recipient's zone) before and after the change."""
    business_id, merged = await _patched(request)
    preview = await preview_settings(
        request.app[SESSIONS], business_id, merged.automation, merged.time_zone, datetime.now(UTC)
    )
    return web.json_response(preview.model_dump(mode="json"))


@routes.get(
    "/v1/businesses/me/settings-rollouts/{revision}",
    "How far a settings change has reached the sleeping workflows",
    ok={"200": "progress per kind of workflow"},
    result=RolloutProgress,
)
async def rollout(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    progress = await rollout_progress(request.app[TEMPORAL], business_id, path_id(request, "revision"))
    if progress is None:
        raise ApiError(404, "not_found", "no rollout of that revision (nothing sleeping planned with it)")
    return web.json_response(progress.model_dump(mode="json"))


async def _patched(request: web.Request) -> tuple[int, BusinessCreate]:
    """The calling business with the request's merge patch applied, validated whole (nothing stored)."""
    business_id = await require_business(request)
    patch = await parse_json_object(request)
    async with request.app[SESSIONS]() as session:
        business = await session.get(Business, business_id)
    assert business is not None
    return business_id, validate_merge_patch(BusinessCreate, _editable(business), patch)


def _editable(business: Business) -> dict[str, object]:
    """The business as a PATCH sees it: what a merge patch applies to (defaults filled in)."""
    return {
        "name": business.name,
        "time_zone": business.time_zone,
        "admin_email": business.admin_email,
        "locale": business.locale,
        "automation": effective_automation(business),
    }


@routes.post(
    "/v1/customers",
    "Create a customer with channels and opt-ins",
    ok={"201": "customer"},
    errors={"409": "another customer of yours has this external_id"},
    tag="customers",
    body=CustomerCreate,
    result=CustomerOut,
)
async def create_customer(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    body = await parse_json_body(request, CustomerCreate)
    values = {k: v for k, v in body.model_dump(mode="json").items() if v is not None}
    try:
        customer = await customers.create(request.app[SESSIONS], business_id, values)
    except customers.ExternalIdTaken as exc:
        raise conflict_error(exc) from exc
    return web.json_response(customer_json(customer), status=201)


_CUSTOMER_BY_EXTERNAL_ID = "/v1/customers/by-external-id/{external_id}"


def path_external_id(request: web.Request, what: str) -> str:
    """The path's external id (percent-decoded), or 404: what cannot be an external id names nothing."""
    try:
        return str(TypeAdapter(ExternalId).validate_python(request.match_info["external_id"]))
    except ValidationError as exc:
        raise ApiError(404, "not_found", f"no such {what} (not an external id)") from exc


@routes.put(
    _CUSTOMER_BY_EXTERNAL_ID,
    "Make the customer your id names have these fields (idempotent: the same body again writes nothing)",
    ok={"201": "created", "200": "as it is now: updated or unchanged"},
    tag="customers",
    body=CustomerUpsert,
    result=CustomerUpserted,
)
async def upsert_customer(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    external_id = path_external_id(request, "customer")
    body = await parse_json_body(request, CustomerUpsert)
    values = body.model_dump(mode="json", exclude_unset=True)
    customer, outcome = await customers.upsert(request.app[SESSIONS], business_id, external_id, values)
    answer = {**customer_json(customer), "outcome": outcome}
    return web.json_response(answer, status=201 if outcome == "created" else 200)


@routes.get(
    _CUSTOMER_BY_EXTERNAL_ID,
    "The customer your id names",
    ok={"200": "customer"},
    tag="customers",
    result=CustomerOut,
)
async def get_customer_by_external_id(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    customer = await customers.by_external_id(
        request.app[SESSIONS], business_id, path_external_id(request, "customer")
    )
    if customer is None:
        raise ApiError(404, "not_found", "no such customer")
    return web.json_response(customer_json(customer))


@routes.get(
    "/v1/customers/{customer_id}", "A customer", ok={"200": "customer"}, tag="customers", result=CustomerOut
)
async def get_customer(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    async with request.app[SESSIONS]() as session:
        customer = await customer_of(session, business_id, path_id(request, "customer_id"))
    if customer is None:
        raise ApiError(404, "not_found", "no such customer")
    return web.json_response(customer_json(customer))


@routes.patch(
    "/v1/customers/{customer_id}",
    "Change a customer (opt-ins too)",
    ok={"200": "customer"},
    errors={"409": "another customer of yours has this external_id"},
    tag="customers",
    body=CustomerUpdate,
    result=CustomerOut,
)
async def update_customer(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    patch = await parse_json_object(request)
    async with request.app[SESSIONS]() as session:
        customer = await customer_of(session, business_id, path_id(request, "customer_id"))
        if customer is None:
            raise ApiError(404, "not_found", "no such customer")
        if isinstance(patch.get("preferences"), dict):  # categories left out keep their value
            stored = Preferences.from_stored(customer.preferences).model_dump()
            # an update, not a merge patch: a category is true or false, and null is refused (422 naming
            # it) as the document says, rather than dropped by the merge
            patch["preferences"] = {**stored, **patch["preferences"]}
        body = validate(CustomerUpdate, patch)
    try:
        changed = await customers.update(
            request.app[SESSIONS], business_id, customer.id, body.model_dump(mode="json", exclude_unset=True)
        )
    except customers.ExternalIdTaken as exc:
        raise conflict_error(exc) from exc
    if changed is None:
        raise ApiError(404, "not_found", "no such customer")
    return web.json_response(customer_json(changed))
