"""Provider callbacks: SMS delivery receipts and inbound STOP/START (Twilio-signed), push receipts (HMAC)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import TypeVar

from aiohttp import web
from pydantic import ValidationError

from api.errors import ApiError, validation_error
from api.keys import SESSIONS, SETTINGS
from api.openapi import RouteTable
from api.queries import SmsStatusQuery, parse_query
from api.schemas import PushReceipt, SmsInboundForm, SmsStatusForm, TwilioForm
from db import notification_queries as queries
from db.tenants import opt_out_phone
from domain.statuses import FAILED_RECEIPTS as UNDELIVERED

routes = RouteTable("provider-callbacks", public=True)

Form = TypeVar("Form", bound=TwilioForm)
STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
START_WORDS = frozenset({"START", "UNSTOP", "YES"})
DELIVERED = frozenset({"delivered"})


def twilio_signature(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """Twilio's request signature: base64 HMAC-SHA1 of the URL followed by the sorted form pairs."""
    payload = url + "".join(f"{key}{params[key]}" for key in sorted(params))
    return base64.b64encode(hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()).decode()


async def _verified_twilio_form(request: web.Request) -> dict[str, str]:
    settings = request.app[SETTINGS]
    if settings.twilio_auth_token is None:
        raise ApiError(403, "forbidden", "SMS webhooks are off: no TWILIO_AUTH_TOKEN is configured")
    try:
        posted = await request.post()
    except (ValueError, AssertionError, UnicodeDecodeError, web.HTTPException) as exc:
        raise ApiError(
            400,
            "invalid_form",
            "the body is not a valid form (application/x-www-form-urlencoded or multipart/form-data)",
            fields=[{"field": "body", "message": str(exc)[:200] or "invalid form"}],
        ) from None
    form = {key: value for key, value in posted.items() if isinstance(value, str)}
    url = settings.public_base_url.rstrip("/") + request.path_qs
    expected = twilio_signature(settings.twilio_auth_token.get_secret_value(), url, form)
    given = request.headers.get("X-Twilio-Signature", "")
    if not hmac.compare_digest(expected.encode(), given.encode()):
        raise ApiError(
            403,
            "forbidden",
            "bad X-Twilio-Signature",
            fields=[{"field": "X-Twilio-Signature", "message": "does not match"}],
        )
    return form


def _validated(model: type[Form], form: dict[str, str]) -> Form:
    try:
        return model.model_validate(form)
    except ValidationError as exc:
        raise validation_error(exc) from exc


@routes.post(
    "/v1/webhooks/sms/status",
    "Twilio status callback (X-Twilio-Signature): sent -> delivered/failed",
    errors={"403": "bad signature"},
    empty={"204": "applied"},
    form=SmsStatusForm,
    query=SmsStatusQuery,
)
async def sms_status(request: web.Request) -> web.Response:
    """Twilio status callback: ``MessageStatus`` moves ``sent`` to ``delivered`` or ``failed``. The URL's
    ``log`` (signed with the rest of the URL) names our message: a receipt for an attempt whose answer was
    lost records the message's SID, which tells the next attempt it went out."""
    form = _validated(SmsStatusForm, await _verified_twilio_form(request))
    query = parse_query(request, SmsStatusQuery)
    sid, status = form.MessageSid, form.MessageStatus.lower()
    if query.log:
        async with request.app[SESSIONS]() as session:
            await queries.record_provider_id(session, query.log, "twilio", sid, status)
    if status in DELIVERED | UNDELIVERED:
        error = f"{status} (error {form.ErrorCode or '?'})" if status in UNDELIVERED else None
        async with request.app[SESSIONS]() as session:
            await queries.apply_receipt(session, "twilio", sid, status in DELIVERED, error)
    return web.Response(status=204)  # intermediate states (queued, sending, sent) need no change


@routes.post(
    "/v1/webhooks/sms/inbound",
    "Inbound SMS (X-Twilio-Signature): STOP opts the number out of SMS, START opts it back in",
    errors={"403": "bad signature"},
    empty={"200": "TwiML"},
    form=SmsInboundForm,
)
async def sms_inbound(request: web.Request) -> web.Response:
    """An SMS to our number: STOP words opt the sender out of SMS everywhere, START words opt back in."""
    form = _validated(SmsInboundForm, await _verified_twilio_form(request))
    phone, word = form.From, form.Body.strip().upper()
    if word in STOP_WORDS or word in START_WORDS:
        async with request.app[SESSIONS]() as session:
            await opt_out_phone(session, phone, opted_in=word in START_WORDS)
    return web.Response(text="<Response/>", content_type="application/xml")


@routes.post(
    "/v1/webhooks/push/status",
    "Push receipt, JSON signed with X-Keeptime-Signature (hex HMAC-SHA256 of the body)",
    errors={"403": "bad signature", "404": "not found (or another business's)"},
    empty={"204": "applied"},
    body=PushReceipt,
)
async def push_status(request: web.Request) -> web.Response:
    """A push receipt from the app backend: JSON signed with ``X-Keeptime-Signature`` (HMAC-SHA256, hex)."""
    raw = await request.read()
    secret = request.app[SETTINGS].push_receipt_secret.get_secret_value().encode()
    expected = hmac.new(secret, raw, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), request.headers.get("X-Keeptime-Signature", "").encode()):
        raise ApiError(
            403,
            "forbidden",
            "bad X-Keeptime-Signature",
            fields=[{"field": "X-Keeptime-Signature", "message": "does not match"}],
        )
    try:
        receipt = PushReceipt.model_validate_json(raw)
    except ValidationError as exc:
        raise validation_error(exc) from exc
    async with request.app[SESSIONS]() as session:
        found = await queries.apply_receipt(
            session, "fcm", receipt.message_id, receipt.status == "delivered", receipt.error
        )
    if not found:
        raise ApiError(404, "not_found", "no sent push message with that id")
    return web.Response(status=204)
