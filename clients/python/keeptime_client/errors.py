"""Typed errors: one class per kind of answer, each with the API's ``error`` code, message and fields."""

from __future__ import annotations

from typing import Any


class KeeptimeError(Exception):
    """An answer that is not a success. ``fields``: ``[{"field": ..., "message": ...}]`` naming the input
    at fault (4xx)."""

    def __init__(
        self, status: int, code: str, message: str, fields: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields or []

    @property
    def field(self) -> str | None:
        """The first field named, if any."""
        return str(self.fields[0]["field"]) if self.fields else None


class ValidationFailed(KeeptimeError):
    """400 or 422: the request breaks the API's document (``validation_error``) or one of its rules
    (``inconsistent``)."""


class Unauthorized(KeeptimeError):
    """401 or 403: the key is missing, wrong, or not allowed this."""


class NotFound(KeeptimeError):
    """404: no such thing (or another business's)."""


class Conflict(KeeptimeError):
    """409: it conflicts with what is stored (a taken slot or id, a status that does not allow it)."""


class RateLimited(KeeptimeError):
    """429, after every retry."""


class Unavailable(KeeptimeError):
    """503 (PostgreSQL or Temporal unavailable), after every retry."""


class ServerError(KeeptimeError):
    """Any other 5xx."""


def error_for(status: int, body: Any) -> KeeptimeError:
    info = body if isinstance(body, dict) else {}
    code = str(info.get("error", "error"))
    message = str(info.get("message", "")) or f"HTTP {status}"
    fields = info.get("fields") if isinstance(info.get("fields"), list) else None
    kind: type[KeeptimeError]
    if status in (400, 422):
        kind = ValidationFailed
    elif status in (401, 403):
        kind = Unauthorized
    elif status == 404:
        kind = NotFound
    elif status == 409:
        kind = Conflict
    elif status == 429:
        kind = RateLimited
    elif status == 503:
        kind = Unavailable
    elif status >= 500:
        kind = ServerError
    else:
        kind = KeeptimeError
    return kind(status, code, message, fields)
