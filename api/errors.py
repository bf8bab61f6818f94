"""API errors: every failure leaves as JSON ``{"error": code, "message": ..., "fields": [...]}``."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

Model = TypeVar("Model", bound=BaseModel)


class ApiError(Exception):
    """An error with an HTTP status and a machine-readable code."""

    def __init__(
        self, status: int, code: str, message: str, *, fields: list[dict[str, str]] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields or []

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.fields:
            body["fields"] = self.fields
        return body


def field_error(field: str, message: str) -> ApiError:
    """A 422 naming the one field at fault (query parameters, headers, lookups a body model cannot do)."""
    return ApiError(422, "validation_error", message, fields=[{"field": field, "message": message}])


def validation_error(exc: ValidationError) -> ApiError:
    fields = [
        {"field": ".".join(str(part) for part in err["loc"]) or "body", "message": err["msg"]}
        for err in exc.errors(include_url=False)
    ]
    return ApiError(422, "validation_error", "the request is not valid", fields=fields)


async def parse_json_body(request: web.Request, model: type[Model]) -> Model:
    """Parse the JSON body into ``model``; 400 for malformed JSON, 422 naming each field at fault."""
    data = await _json(request)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc) from exc


async def parse_json_object(request: web.Request) -> dict[str, Any]:
    """The JSON body as an object (for partial updates merged before validation); 400 otherwise."""
    data = await _json(request)
    if not isinstance(data, dict):
        raise ApiError(
            400,
            "invalid_json",
            "the body must be a JSON object",
            fields=[{"field": "body", "message": "object"}],
        )
    return data


async def _json(request: web.Request) -> Any:
    raw = await request.read()
    try:
        data = json.loads(raw) if raw else {}
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(
            400,
            "invalid_json",
            f"the body is not valid JSON: {exc}",
            fields=[{"field": "body", "message": "invalid JSON"}],
        ) from exc
    return data
