"""The OpenAPI document, assembled from the routes' own operation specs (see api/routes.py)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from domain.automation import time_zone_names
from domain.limits import COMPONENT_MARK, EXTERNAL_ID_PATTERN, MAX_DB_ID, locale_names
from domain.locales import catalog_locale_names
from domain.notification_events import CHANNELS, EVENTS, TEMPLATE_PARTS

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


def json_schema(model: type[BaseModel], schemas: dict[str, Any]) -> dict[str, Any]:
    """``model``'s JSON Schema, its marks made $refs to components and the models it uses registered."""
    schema: dict[str, Any] = refer_to_components(
        model.model_json_schema(ref_template="#/components/schemas/{model}")
    )
    schemas.update(schema.pop("$defs", {}))
    return schema


def model_ref(model: type[BaseModel], schemas: dict[str, Any]) -> dict[str, Any]:
    """Register ``model`` (and the models it uses) under components/schemas and return a $ref to it."""
    schemas[model.__name__] = json_schema(model, schemas)
    return {"$ref": f"#/components/schemas/{model.__name__}"}


# The sets of names the API accepts, each listed once in the document (domain.limits.COMPONENT_MARK).
COMPONENTS: dict[str, dict[str, Any]] = {
    "TimeZone": {
        "type": "string",
        "description": "an IANA time zone this server knows, e.g. Europe/Berlin",
        "enum": list(time_zone_names()),
    },
    "Locale": {
        "type": "string",
        "description": "a CLDR locale Babel has data for, e.g. en, de or pt_BR",
        "enum": list(locale_names()),
    },
    "CatalogLocale": {
        "type": "string",
        "description": "a locale whose language has a message catalog (en, de, es), e.g. de_AT",
        "enum": list(catalog_locale_names()),
    },
}


def refer_to_components(schema: Any) -> Any:
    """``schema`` with each mark (``domain.limits.COMPONENT_MARK``) made a $ref to its component."""
    if isinstance(schema, dict):
        if COMPONENT_MARK in schema:
            return {"$ref": f"#/components/schemas/{schema[COMPONENT_MARK]}"}
        return {key: refer_to_components(value) for key, value in schema.items()}
    if isinstance(schema, list):
        return [refer_to_components(item) for item in schema]
    return schema


def merge_patch_ref(model: type[BaseModel], schemas: dict[str, Any]) -> dict[str, Any]:
    """Register ``<Model>Patch``, the schema of a JSON Merge Patch (RFC 7396) of ``model``, and return a
    $ref to it: every field optional; ``null`` allowed where the merge turns it into the field's default
    (a field without one is required, so ``null``, which removes it, is refused there); nested models
    are patches too. The handler merges the patch into the stored document and validates the result
    with ``model`` (``api.errors.validate_merge_patch`` refuses unknown keys at every level first)."""
    name = f"{model.__name__}Patch"
    if name not in schemas:
        schema = json_schema(model, schemas)
        schemas[name] = {}  # registered before recursing: a model that nests itself stays finite
        properties: dict[str, Any] = {}
        for key, prop in schema.get("properties", {}).items():
            field_info = model.model_fields[key]
            nested = field_info.annotation
            if isinstance(nested, type) and issubclass(nested, BaseModel):
                prop = {**{k: v for k, v in prop.items() if k != "$ref"}, **merge_patch_ref(nested, schemas)}
            prop = {k: v for k, v in prop.items() if k != "default"}
            if not field_info.is_required() and not _allows_null(prop):
                prop = {"anyOf": [prop, {"type": "null"}], "description": "null: back to the default"}
            properties[key] = prop
        schemas[name] = {
            "type": "object",
            "title": name,
            "description": f"a JSON Merge Patch (RFC 7396) of {model.__name__}: a field left out keeps its "
            "value, null resets it to its default",
            "properties": properties,
            "additionalProperties": False,
        }
    return {"$ref": f"#/components/schemas/{name}"}


def _allows_null(prop: dict[str, Any]) -> bool:
    return prop.get("type") == "null" or any(_allows_null(p) for p in prop.get("anyOf", []))


PATH_PARAMETER = re.compile(r"{([a-z_]+)}")
ID_SCHEMA: dict[str, Any] = {"type": "integer", "minimum": 1, "maximum": MAX_DB_ID}
NAME_SCHEMA: dict[str, Any] = {"type": "string", "pattern": "^[a-z0-9][a-z0-9_.-]{0,63}$"}
# A signed link's token (domain.unsubscribe): two base64url parts; a template's event, channel and part.
PATH_SCHEMAS: dict[str, dict[str, Any]] = {
    "external_id": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": EXTERNAL_ID_PATTERN},
    "token": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,200}\\.[A-Za-z0-9_-]{1,100}$"},
    "event": {"type": "string", "enum": sorted(EVENTS)},
    "channel": {"type": "string", "enum": list(CHANNELS)},
    "part": {
        "type": "string",
        "enum": sorted({part for parts in TEMPLATE_PARTS.values() for part in parts}),
        "description": "text for every channel; subject for e-mail and push; html for e-mail",
    },
}
COMMON_RESPONSES: dict[str, Any] = {
    "503": error_response("PostgreSQL or Temporal is unavailable; retry after Retry-After seconds"),
}
BODY_RESPONSES: dict[str, Any] = {
    "400": error_response("the body is not JSON, or nested too deeply"),
    "415": error_response("the body is not sent as application/json"),
    "422": error_response(
        "invalid input; `fields` names each field at fault. `error` is `validation_error` when the request "
        "breaks this document, `inconsistent` when it matches it but breaks a rule no JSON Schema can "
        "state (each is in its field's description: an end after the start, a time in the future, a "
        "template that renders)"
    ),
}


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    summary: str
    responses: dict[str, Any]
    security: list[dict[str, list[str]]] = field(default_factory=list)
    tags: tuple[str, ...] = ()
    body: type[BaseModel] | None = None
    result: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    form: type[BaseModel] | None = None
    patch: type[BaseModel] | None = None


BEARER: list[dict[str, list[str]]] = [{"bearer": []}]


class RouteTable:
    """The routes of one API module, declared beside their handlers::

        routes = RouteTable("appointments")

        @routes.post("/v1/appointments", "Book an appointment", ok={"201": "booked"}, body=AppointmentCreate)
        async def create(request: web.Request) -> web.Response: ...

    ``ok`` are the JSON 2xx answers (their schema is ``result`` for 200/201), ``errors`` the 4xx/5xx ones
    particular to the route, ``empty`` answers without a body. The answers every operation can give (401
    with a key, 404 with a path id, 400/415/422 with a body, 422 with a query, 503) are added by
    ``operation``."""

    def __init__(self, *tags: str, public: bool = False) -> None:
        self.tags = tags
        self.public = public
        self.routes: list[Route] = []

    def route(
        self,
        method: str,
        path: str,
        summary: str,
        *,
        ok: dict[str, str] | None = None,
        errors: dict[str, str] | None = None,
        empty: dict[str, str] | None = None,
        body: type[BaseModel] | None = None,
        result: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        form: type[BaseModel] | None = None,
        patch: type[BaseModel] | None = None,
        tag: str | None = None,
        text: dict[str, str] | None = None,
        html: dict[str, str] | None = None,
    ) -> Callable[[Handler], Handler]:
        responses: dict[str, Any] = {code: json_response(text) for code, text in (ok or {}).items()}
        responses |= {
            code: {"description": what, "content": {"text/plain": {"schema": {"type": "string"}}}}
            for code, what in (text or {}).items()
        }
        responses |= {code: error_response(text) for code, text in (errors or {}).items()}
        responses |= {code: {"description": text} for code, text in (empty or {}).items()}
        for code, what in (html or {}).items():  # a page for a person (beside any JSON for a program)
            answer = responses.setdefault(code, {"description": what})
            answer.setdefault("content", {})["text/html"] = {"schema": {"type": "string"}}
        if not self.public:
            responses.setdefault("401", error_response("missing or wrong key"))

        def register(handler: Handler) -> Handler:
            self.routes.append(
                Route(
                    method,
                    path,
                    handler,
                    summary,
                    responses,
                    security=[] if self.public else BEARER,
                    tags=(tag,) if tag else self.tags,
                    body=body,
                    result=result,
                    query=query,
                    form=form,
                    patch=patch,
                )
            )
            return handler

        return register

    def get(self, path: str, summary: str, **options: Any) -> Callable[[Handler], Handler]:
        return self.route("GET", path, summary, **options)

    def post(self, path: str, summary: str, **options: Any) -> Callable[[Handler], Handler]:
        return self.route("POST", path, summary, **options)

    def put(self, path: str, summary: str, **options: Any) -> Callable[[Handler], Handler]:
        return self.route("PUT", path, summary, **options)

    def patch(self, path: str, summary: str, **options: Any) -> Callable[[Handler], Handler]:
        return self.route("PATCH", path, summary, **options)

    def delete(self, path: str, summary: str, **options: Any) -> Callable[[Handler], Handler]:
        return self.route("DELETE", path, summary, **options)


def operation(route: Route, schemas: dict[str, Any]) -> dict[str, Any]:
    """One operation of the document: parameters from the path and the query model, the request body and
    the result from their pydantic models, and the responses every operation can give."""
    module = route.handler.__module__.rsplit(".", 1)[-1]
    responses = {**route.responses, **COMMON_RESPONSES}
    spec: dict[str, Any] = {
        "summary": route.summary,
        "operationId": f"{route.method.lower()}_{module}_{route.handler.__name__.strip('_')}",
        "tags": list(route.tags),
    }
    parameters = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": PATH_SCHEMAS.get(name) or (ID_SCHEMA if name.endswith("_id") else NAME_SCHEMA),
        }
        for name in PATH_PARAMETER.findall(route.path)
    ]
    if parameters and not any(code == "404" for code in responses):
        responses["404"] = error_response("not found (or another business's)")
    if route.query is not None:
        parameters.extend(query_parameters(route.query, schemas))
        responses.setdefault("422", BODY_RESPONSES["422"])
    if parameters:
        spec["parameters"] = parameters
    if route.security:
        spec["security"] = route.security
    if route.body is not None or route.patch is not None:
        # Required where the handler needs one: a merge patch, a partial update, or a model with required
        # fields (an absent body is ``{}``, which would be refused, so the document must not offer that).
        if route.patch is not None:
            needed, schema = True, merge_patch_ref(route.patch, schemas)
        else:
            assert route.body is not None
            needed = route.method in ("PUT", "PATCH") or any(
                f.is_required() for f in route.body.model_fields.values()
            )
            schema = model_ref(route.body, schemas)
        spec["requestBody"] = {"required": needed, "content": {"application/json": {"schema": schema}}}
        responses.update({code: value for code, value in BODY_RESPONSES.items() if code not in responses})
    if route.form is not None:
        spec["requestBody"] = {
            "required": True,
            "content": {"application/x-www-form-urlencoded": {"schema": model_ref(route.form, schemas)}},
        }
        responses.setdefault("400", error_response("the body is not a valid form"))
        responses.setdefault("422", BODY_RESPONSES["422"])
    if route.result is not None:  # 200 and 201 carry the result; a 202 says what was accepted
        for code in ("200", "201"):
            if code in route.responses:
                description = route.responses[code]["description"]
                responses[code] = json_response(description, model_ref(route.result, schemas))
    spec["responses"] = dict(sorted(responses.items()))
    return spec


def query_parameters(model: type[BaseModel], schemas: dict[str, Any]) -> list[dict[str, Any]]:
    """The query model's fields as OpenAPI parameters (by their alias: ``from``, ``to``)."""
    schema = json_schema(model, schemas)
    return [
        {
            "name": name,
            "in": "query",
            "required": name in schema.get("required", []),
            "schema": {k: v for k, v in field.items() if k not in ("title", "description")},
            **({"description": field["description"]} if "description" in field else {}),
        }
        for name, field in schema["properties"].items()
    ]


NO_NUL = "^[^\\u0000]*$"  # as a JSON string: the regex ^[^\u0000]*$ (ECMA-262, as OpenAPI 3.1 patterns are)


def without_nul(schema: Any) -> Any:
    """``schema`` with every free string declared NUL-free: PostgreSQL text cannot hold U+0000, so every
    body refuses it (``api.errors``, 422 naming the field). Strings with a pattern, a format, an enum or a
    const already exclude it; free keys (``additionalProperties``) are declared NUL-free too."""
    if isinstance(schema, dict):
        found = {key: without_nul(value) for key, value in schema.items()}
        free = not ({"pattern", "format", "enum", "const"} & found.keys())
        if found.get("type") == "string" and free:
            found["pattern"] = NO_NUL
        if found.get("type") == "object" and found.get("additionalProperties", False) is not False:
            found.setdefault("propertyNames", {"pattern": NO_NUL})  # keys too
        return found
    if isinstance(schema, list):
        return [without_nul(item) for item in schema]
    return schema


def build_document(paths: dict[str, dict[str, Any]], schemas: dict[str, Any]) -> dict[str, Any]:
    schemas = without_nul(schemas)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Keeptime API",
            "version": "1",
            "description": "Durable automation for businesses that live by the clock.",
        },
        "components": {
            "schemas": {"Error": ERROR_SCHEMA, **COMPONENTS, **schemas},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "paths": paths,
    }
