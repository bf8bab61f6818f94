"""Query-string parameters: parsed once, each bad one a 422 naming it."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import overload

from aiohttp import web

from api.errors import field_error


def query_datetime(request: web.Request, name: str) -> datetime | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise field_error(name, "an ISO 8601 date-time with offset, e.g. 2030-01-01T00:00:00Z") from None
    if value.tzinfo is None:
        raise field_error(name, "must include a UTC offset")
    return value


@overload
def query_int(
    request: web.Request, name: str, *, default: int, minimum: int = 1, maximum: int | None = None
) -> int: ...
@overload
def query_int(
    request: web.Request, name: str, *, default: None = None, minimum: int = 1, maximum: int | None = None
) -> int | None: ...
def query_int(
    request: web.Request,
    name: str,
    *,
    default: int | None = None,
    minimum: int = 1,
    maximum: int | None = None,
) -> int | None:
    """The parameter as an integer in [minimum, maximum]; ``default`` when it is absent."""
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise field_error(name, f"{name} must be an integer") from None
    if value < minimum or (maximum is not None and value > maximum):
        raise field_error(name, f"{name} must be between {minimum} and {maximum}")
    return value


def query_choice(request: web.Request, name: str, choices: Collection[str]) -> str | None:
    raw = request.query.get(name)
    if raw is not None and raw not in choices:
        raise field_error(name, f"one of {sorted(choices)}")
    return raw
