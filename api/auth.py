"""Bearer-key checks: operators use the admin key, each business its own API keys (hashed at rest)."""

from __future__ import annotations

import hmac

from aiohttp import web

from api.errors import ApiError
from api.keys import API_KEYS, SESSIONS, SETTINGS
from db.tenants import business_for_key
from keeptime.logs import tenant_var


def _bearer(request: web.Request) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _unauthorized(what: str) -> ApiError:
    return ApiError(
        401,
        "unauthorized",
        f"a valid {what} is required (Authorization: Bearer ...)",
        fields=[{"field": "Authorization", "message": "missing or wrong bearer key"}],
    )


def require_admin(request: web.Request) -> None:
    """401 unless ``Authorization: Bearer <ADMIN_API_KEY>`` (compared in constant time)."""
    expected = request.app[SETTINGS].admin_api_key.get_secret_value()
    if not hmac.compare_digest(_bearer(request).encode(), expected.encode()):
        raise _unauthorized("admin key")


async def require_business(request: web.Request) -> int:
    """The business whose API key is the bearer token; every tenant-scoped handler starts here."""
    token = _bearer(request)
    if token:
        cache = request.app[API_KEYS]
        business_id = cache.get(token)
        if business_id is None:
            async with request.app[SESSIONS]() as session:
                business_id = await business_for_key(session, token)
            if business_id is not None:
                cache.put(token, business_id)
        if business_id is not None:
            tenant_var.set(business_id)  # every log line of this request names the tenant
            return business_id
    raise _unauthorized("business API key")
