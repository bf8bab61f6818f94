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
from domain.limits import FieldValueError, Inconsistent

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


def _naming(field: str, message: str) -> list[dict[str, str]]:
    """The ``fields`` of an error that blames one field."""
    return [{"field": field, "message": message}]


def field_error(field: str, message: str) -> ApiError:
    """A 422 naming the one field at fault (query parameters, headers, lookups a body model cannot do)."""
    return ApiError(422, "validation_error", message, fields=_naming(field, message))


def inconsistent_error(field: str, message: str) -> ApiError:
    """A 422 ``inconsistent``: the request matches the document, but breaks a rule no JSON Schema can
    state (an end before its start, a call in the past). The field's description in the document says it."""
    return ApiError(422, "inconsistent", message, fields=_naming(field, message))


def cursor_error(exc: Exception) -> ApiError:
    """A cursor that is not one this list answered (edited, of another order or list): 422 on ``after``."""
    return inconsistent_error("after", str(exc))


def missing_reference(field: str, message: str) -> ApiError:
    """A 404 naming the body field whose id names nothing of this business. JSON:API 1.1, "Creating
    Resources": "A server MUST return 404 Not Found when processing a request that references a related
    resource that does not exist" (https://jsonapi.org/format/#crud-creating-responses-404)."""
    return ApiError(404, "not_found", message, fields=_naming(field, message))


def validation_error(exc: ValidationError, *, prefix: str = "") -> ApiError:
    """A 422 with one entry per error; a rule that spans fields names the field it blames. When every
    error is a rule the document cannot declare (``domain.limits.Inconsistent``) the code is
    ``inconsistent``; any other error makes it ``validation_error`` (the request breaks the document)."""
    fields = []
    undeclarable = True
    for err in exc.errors(include_url=False):
        location = [str(part) for part in err["loc"]]
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, FieldValueError):
            location.append(cause.field)
        undeclarable = undeclarable and isinstance(cause, Inconsistent)
        name = ".".join(location) or "body"
        fields.append({"field": f"{prefix}{name}" if prefix else name, "message": err["msg"]})
    if undeclarable and fields:
        return ApiError(422, "inconsistent", "the fields do not fit together", fields=fields)
    return ApiError(422, "validation_error", "the request is not valid", fields=fields)


async def parse_json_body(request: web.Request, model: type[Model]) -> Model:
    """Parse the JSON body into ``model`` (an empty body is ``{}`` where the method allows it)."""
    return validate(model, await read_json(request))


async def parse_json_object(request: web.Request) -> dict[str, Any]:
    """The JSON body as an object (a merge patch, or a document validated later): required, whatever the
    method (the preview of a change is a POST of a merge patch)."""
    data = await read_json(request, required=True)
    if not isinstance(data, dict):
        raise ApiError(
            400,
            "invalid_json",
            "the body must be a JSON object",
            fields=[{"field": "body", "message": "object"}],
        )
    return data


def validate(model: type[Model], data: Any) -> Model:
    """Validate parsed JSON strictly, as JSON (so ISO strings are dates and numbers are never booleans).

    A whole number is an integer however it is written: JSON has one number type (RFC 8259 sec. 6), and
    JSON Schema's ``integer`` matches "any number with a zero fractional part" (JSON Schema Validation
    2020-12, sec. 6.1.1), so ``36.0`` is accepted where the document says integer, as a client generated
    from it may send it. Pydantic's strict mode would refuse it; ``whole_numbers`` rewrites it first."""
    try:
        return model.model_validate_json(json.dumps(whole_numbers(data)), strict=True)
    except ValidationError as exc:
        raise validation_error(exc) from exc


def whole_numbers(value: Any) -> Any:
    """``value`` with every finite float that has no fractional part made an int (``36.0`` -> ``36``); a
    float field takes the int as the same number."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: whole_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [whole_numbers(item) for item in value]
    return value


def validate_merge_patch(model: type[Model], stored: dict[str, Any], patch: dict[str, Any]) -> Model:
    """``patch`` (RFC 7396) merged into ``stored``, validated whole with ``model``. The 422 also names each
    key of the patch that is no field of ``model``, at every level it nests into: a ``null`` for an
    unknown key would otherwise vanish in the merge unnoticed (the document refuses it: ``<Model>Patch``
    has ``additionalProperties: false``)."""
    unknown = [
        {"field": name, "message": "Extra inputs are not permitted"} for name in unknown_keys(model, patch)
    ]
    try:
        merged = validate(model, merge_patch(stored, patch))
    except ApiError as exc:
        if unknown:
            named = {entry["field"] for entry in unknown}
            exc.fields = unknown + [entry for entry in exc.fields if entry["field"] not in named]
            exc.code, exc.message = "validation_error", "the request is not valid"
        raise
    if unknown:
        raise ApiError(422, "validation_error", "the request is not valid", fields=unknown)
    return merged


def unknown_keys(model: type[BaseModel], patch: Any, path: str = "") -> list[str]:
    if not isinstance(patch, dict):
        return []
    found = []
    for key, value in patch.items():
        name = f"{path}.{key}" if path else key
        field_info = model.model_fields.get(key)
        if field_info is None:
            found.append(name)
        elif isinstance(field_info.annotation, type) and issubclass(field_info.annotation, BaseModel):
            found.extend(unknown_keys(field_info.annotation, value, name))
    return found


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


async def read_json(request: web.Request, *, required: bool = False) -> Any:
    raw = await request.read()
    if not raw:
        if required or request.method in ("PUT", "PATCH"):
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
    return ApiError(409, "conflict", str(exc), fields=_naming(exc.field, str(exc)))
