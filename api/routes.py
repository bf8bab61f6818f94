"""Every route in one list, each with its OpenAPI operation; ``setup_routes`` registers both."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from activities.health_types import DatabaseHealthReport
from api import health, health_checks
from api.keys import OPENAPI
from api.openapi import build_document, error_response, json_response, model_schema, openapi_json

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ADMIN: list[dict[str, list[str]]] = [{"bearer": []}]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    summary: str
    responses: dict[str, Any]
    security: list[dict[str, list[str]]] = field(default_factory=list)
    tags: tuple[str, ...] = ()


ROUTES: list[Route] = [
    Route(
        "GET", "/healthz", health.healthz, "The process is up", {"200": json_response("up")}, tags=("ops",)
    ),
    Route(
        "GET",
        "/readyz",
        health.readyz,
        "PostgreSQL and Temporal are reachable",
        {"200": json_response("ready"), "503": json_response("not ready, with the reason per dependency")},
        tags=("ops",),
    ),
    Route(
        "GET",
        "/openapi.json",
        openapi_json,
        "This document",
        {"200": json_response("OpenAPI 3.1")},
        tags=("ops",),
    ),
    Route(
        "POST",
        "/v1/health-checks",
        health_checks.run_health_check,
        "Run the database health check now (a Temporal workflow) and return its report",
        {
            "200": json_response("report", model_schema(DatabaseHealthReport)),
            "401": error_response("missing or wrong admin key"),
            "504": error_response("no worker finished the check in time"),
        },
        security=ADMIN,
        tags=("ops",),
    ),
    Route(
        "GET",
        "/v1/health-checks/latest",
        health_checks.latest_health_check,
        "The most recent database health check report",
        {
            "200": json_response("report"),
            "401": error_response("missing or wrong admin key"),
            "404": error_response("no check has run yet"),
        },
        security=ADMIN,
        tags=("ops",),
    ),
]


def setup_routes(app: web.Application) -> None:
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        app.router.add_route(route.method, route.path, route.handler)
        operation: dict[str, Any] = {
            "summary": route.summary,
            "operationId": route.handler.__name__,
            "responses": route.responses,
            "tags": list(route.tags),
        }
        if route.security:
            operation["security"] = route.security
        paths.setdefault(route.path, {})[route.method.lower()] = operation
    app[OPENAPI] = build_document(paths)
