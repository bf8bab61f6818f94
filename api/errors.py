"""API errors and request bodies: every failure leaves as JSON ``{"error", "message", "fields"}``.

Bodies are parsed in one place, with one set of rules for every endpoint: ``Content-Type: application/json``
(else 415), valid JSON at most ``MAX_DEPTH`` deep (else 400), no NUL characters in any string (422 naming the
field: PostgreSQL text cannot hold them), then the operation's model in pydantic's *strict* JSON mode, so
``true`` is not an id and ``0`` is not a date. Partial updates are JSON Merge Patches (RFC 7396) applied to
the stored document before the same validation.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from db.conflicts import FieldConflict
from domain.limits import FieldValueError

Model = TypeVar("Model", bound=BaseModel)
MAX_DEPTH = 32


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


def validation_error(exc: ValidationError, *, prefix: str = "") -> ApiError:
    """A 422 with one entry per error; a rule that spans fields names the field it blames."""
    fields = []
    for err in exc.errors(include_url=False):
        location = [str(part) for part in err["loc"]]
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, FieldValueError):
            location.append(cause.field)
        name = ".".join(location) or "body"
        fields.append({"field": f"{prefix}{name}" if prefix else name, "message": err["msg"]})
    return ApiError(422, "validation_error", "the request is not valid", fields=fields)


async def parse_json_body(request: web.Request, model: type[Model]) -> Model:
    """Parse the JSON body into ``model`` (an empty body is ``{}`` where the method allows it)."""
    return validate(model, await read_json(request))


async def parse_json_object(request: web.Request) -> dict[str, Any]:
    """The JSON body as an object (a merge patch, or a document validated later)."""
    data = await read_json(request)
    if not isinstance(data, dict):
        raise ApiError(
            400,
            "invalid_json",
            "the body must be a JSON object",
            fields=[{"field": "body", "message": "object"}],
        )
    return data


def validate(model: type[Model], data: Any) -> Model:
    """Validate parsed JSON strictly, as JSON (so ISO strings are dates and numbers are never booleans)."""
    try:
        return model.model_validate_json(json.dumps(data), strict=True)
    except ValidationError as exc:
        raise validation_error(exc) from exc


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON Merge Patch: objects merge key by key, ``null`` removes a key, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


async def read_json(request: web.Request) -> Any:
    raw = await request.read()
    if not raw:
        if request.method in ("PUT", "PATCH"):
            raise field_error("body", "a JSON object with the fields to change is required")
        return {}
    if request.content_type != "application/json" and not request.content_type.endswith("+json"):
        raise ApiError(
            415,
            "unsupported_media_type",
            "send the body as JSON with Content-Type: application/json",
            fields=[{"field": "Content-Type", "message": "application/json"}],
        )
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else f"not valid JSON: {exc}"
        raise ApiError(
            400,
            "invalid_json",
            f"the body is {reason}",
            fields=[{"field": "body", "message": "invalid JSON"}],
        ) from None
    _check_tree(data, "", 0)
    return data


def _check_tree(value: Any, path: str, depth: int) -> None:
    """Depth at most MAX_DEPTH; no NUL in any string or key (422 names the first one found)."""
    if depth > MAX_DEPTH:
        raise ApiError(
            400,
            "invalid_json",
            f"the body is nested more than {MAX_DEPTH} levels deep",
            fields=[{"field": path or "body", "message": "nested too deeply"}],
        )
    if isinstance(value, str):
        if "\x00" in value:
            raise field_error(path or "body", "must not contain NUL characters")
    elif isinstance(value, dict):
        for key, item in value.items():
            name = f"{path}.{key}" if path else str(key)
            if "\x00" in key:
                raise field_error(path or "body", "keys must not contain NUL characters")
            _check_tree(item, name, depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_tree(item, f"{path}.{index}" if path else str(index), depth + 1)


def conflict_error(exc: FieldConflict) -> ApiError:
    """A 409 naming the field whose value conflicts with what is stored."""
    return ApiError(409, "conflict", str(exc), fields=[{"field": exc.field, "message": str(exc)}])
