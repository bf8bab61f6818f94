"""Middlewares: request ids and JSON errors (never a stack trace). The server span per request comes from
OpenTelemetry's aiohttp-server instrumentation (keeptime.telemetry)."""

from __future__ import annotations

import logging
import re
import uuid

from aiohttp import web
from aiohttp.typedefs import Handler
from opentelemetry import trace
from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError, RPCStatusCode

from api.errors import ApiError
from db.engine import is_database_unavailable
from keeptime.logs import request_id_var

log = logging.getLogger("keeptime.api")
RETRY_AFTER_S = 5
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Take a sane ``X-Request-ID`` from the caller or make one; echo it and put it in every log line."""
    incoming = request.headers.get("X-Request-ID", "")
    request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
    token = request_id_var.set(request_id)
    # The SERVER span is the maintained aiohttp-server instrumentation's (keeptime.telemetry); name it.
    trace.get_current_span().set_attribute("keeptime.request_id", request_id)
    try:
        response = await handler(request)
        response.headers["X-Request-ID"] = request_id
        return response
    finally:
        request_id_var.reset(token)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Map every error to JSON: ApiError and HTTP errors keep their status, anything else is a logged 500."""
    try:
        return await handler(request)
    except ApiError as exc:
        return _json_error(exc.status, exc.body())
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = web.json_response(
            {"error": exc.reason.lower().replace(" ", "_"), "message": exc.reason}, status=exc.status
        )
        if "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except Exception as exc:
        if is_unavailable(exc):
            # PostgreSQL or Temporal is away: the request can be retried as it is, and will work once it is
            # back (the pool reconnects and the lazy Temporal client redials on its own).
            log.warning("dependency unavailable in %s %s: %s", request.method, request.path, exc)
            response = _json_error(
                503,
                {
                    "error": "unavailable",
                    "message": "a dependency (database or Temporal) is unavailable; retry shortly",
                    "request_id": request_id_var.get(),
                },
            )
            response.headers["Retry-After"] = str(RETRY_AFTER_S)
            return response
        log.exception("unhandled error in %s %s", request.method, request.path)
        return _json_error(
            500, {"error": "internal_error", "message": "internal error", "request_id": request_id_var.get()}
        )


def is_unavailable(exc: BaseException) -> bool:
    """A database that cannot be reached, a pool that timed out, or Temporal not answering."""
    if isinstance(exc, WorkflowUpdateRPCTimeoutOrCancelledError):
        return True  # the workflow did not answer in time; every steering call is safe to repeat
    if isinstance(exc, RPCError):
        return exc.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED)
    return is_database_unavailable(exc)


def _json_error(status: int, body: dict[str, object]) -> web.Response:
    return web.json_response(body, status=status)
