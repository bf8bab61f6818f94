"""Bearer-key checks. Per-business keys arrive with the appointment API; operators use the admin key."""

from __future__ import annotations

import hmac

from aiohttp import web

from api.errors import ApiError
from api.keys import SETTINGS


def require_admin(request: web.Request) -> None:
    """401 unless ``Authorization: Bearer <ADMIN_API_KEY>`` (compared in constant time)."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    expected = request.app[SETTINGS].admin_api_key.get_secret_value()
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), expected.encode()):
        raise ApiError(
            401,
            "unauthorized",
            "a valid admin key is required (Authorization: Bearer ...)",
            fields=[{"field": "Authorization", "message": "missing or wrong bearer key"}],
        )
