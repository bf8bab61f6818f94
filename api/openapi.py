"""The OpenAPI document, assembled from the routes' own operation specs (see api/routes.py)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel

from api.keys import OPENAPI

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error", "message"],
    "properties": {
        "error": {"type": "string", "description": "machine-readable code"},
        "message": {"type": "string"},
        "fields": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}


def json_response(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    content = {"application/json": {"schema": schema or {"type": "object"}}}
    return {"description": description, "content": content}


def error_response(description: str) -> dict[str, Any]:
    return json_response(description, {"$ref": "#/components/schemas/Error"})


def model_ref(model: type[BaseModel], schemas: dict[str, Any]) -> dict[str, Any]:
    """Register ``model`` (and the models it uses) under components/schemas and return a $ref to it."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(schema.pop("$defs", {}))
    schemas[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def build_document(paths: dict[str, dict[str, Any]], schemas: dict[str, Any]) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Keeptime API",
            "version": "1",
            "description": "Durable automation for businesses that live by the clock.",
        },
        "components": {
            "schemas": {"Error": ERROR_SCHEMA, **schemas},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "paths": paths,
    }


async def openapi_json(request: web.Request) -> web.Response:
    return web.json_response(request.app[OPENAPI])
