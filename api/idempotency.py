"""The ``Idempotency-Key`` request header: a caller's key that makes a creating request safe to repeat."""

from __future__ import annotations

from aiohttp import web

from api.errors import ApiError


def idempotency_key(request: web.Request) -> str | None:
    """The request's key, or None without one (400 when it is not 1 to 255 printable characters)."""
    key = request.headers.get("Idempotency-Key")
    if key is not None and not (1 <= len(key) <= 255 and key.isprintable()):
        raise ApiError(
            400,
            "invalid_header",
            "Idempotency-Key must be 1 to 255 printable characters",
            fields=[{"field": "Idempotency-Key", "message": "1 to 255 printable characters"}],
        )
    return key
