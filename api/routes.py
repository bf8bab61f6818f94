"""Every route, collected from the API modules (each declares its routes beside its handlers with a
``RouteTable``); ``setup_routes`` registers them and builds the OpenAPI document from those declarations."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from api import (
    appointments,
    businesses,
    calls,
    daily_plans,
    events,
    fees,
    health,
    health_checks,
    inventory,
    invoices,
    jobs,
    metrics,
    notifications,
    payroll,
    policies,
    projects,
    provider_callbacks,
    scheduler,
    staff,
    stats,
    touch_ups,
    unsubscribe,
    vaccinations,
    webhooks,
)
from api.keys import OPENAPI
from api.openapi import PATH_PARAMETER, PATH_SCHEMAS, Route, build_document, operation

MODULES = (
    health,
    metrics,
    health_checks,
    businesses,
    notifications,
    appointments,
    jobs,
    vaccinations,
    provider_callbacks,
    webhooks,
    unsubscribe,
    policies,
    calls,
    scheduler,
    stats,
    staff,
    invoices,
    projects,
    daily_plans,
    inventory,
    touch_ups,
    payroll,
    events,
    fees,
)
# Static paths first: aiohttp resolves in registration order, so /v1/calls/cleanup must come before
# /v1/calls/{call_id} and /v1/vaccinations/upcoming before /v1/vaccinations/{vaccination_id}.
ROUTES: list[Route] = sorted(
    (route for module in MODULES for route in module.routes.routes), key=lambda route: route.path.count("{")
)


def router_path(path: str) -> str:
    """The path as aiohttp matches it: an ``{..._id}`` matches digits only, so ``/v1/calls/cleanup`` is not
    also ``/v1/calls/{call_id}`` and a 405's ``Allow`` names only the methods the document declares
    (RFC 9110 sec. 10.2.1: "the target resource's currently supported methods")."""
    return PATH_PARAMETER.sub(
        lambda m: f"{{{m[1]}:[0-9]+}}" if m[1].endswith("_id") and m[1] not in PATH_SCHEMAS else m[0], path
    )


def setup_routes(app: web.Application) -> None:
    """Register every route and build the OpenAPI document from the same declarations and models."""
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {}
    for route in ROUTES:
        app.router.add_route(route.method, router_path(route.path), route.handler)
        paths.setdefault(route.path, {})[route.method.lower()] = operation(route, schemas)
    app[OPENAPI] = build_document(dict(sorted(paths.items())), schemas)
