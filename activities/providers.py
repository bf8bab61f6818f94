"""Delivery providers: SMTP e-mail, Twilio- or Telnyx-compatible SMS, FCM v1-compatible push, the console.

Each takes a rendered message and the idempotency key and returns the provider's message id, or raises
``TransientProviderError`` (not accepted: retry later, maybe after ``retry_after_s``),
``AmbiguousProviderError`` (the request may have reached the provider: the outcome is unknown) or
``PermanentProviderError``.

Each declares what its API really guarantees (``Guarantees``), from the provider's own documentation, because
that decides what a retry after an ambiguous attempt may do: only a provider that honours an idempotency key
makes a resend harmless. Only Telnyx does, of the four.
"""

from __future__ import annotations

import email.policy
import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from typing import Protocol

import aiohttp
import aiosmtplib

from keeptime.settings import Settings

log = logging.getLogger("keeptime.notifications")


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    text: str
    html: str | None = None
    # A non-transactional e-mail's signed link (List-Unsubscribe and the body's footer): part of the stored
    # bytes, so a resend carries the very link the first attempt did.
    unsubscribe_url: str | None = None


@dataclass(frozen=True)
class Delivery:
    address: str
    message: RenderedMessage
    idempotency_key: str
    status_callback: str | None = None
    data: dict[str, str] = field(default_factory=dict)
    unsubscribe_url: str | None = None  # non-transactional e-mail: RFC 8058 one-click unsubscribe
    resend: bool = False  # an earlier attempt with this key may have reached the provider


@dataclass(frozen=True)
class Found:
    """A message the provider has, found by ``lookup``: its id and its status there."""

    provider_message_id: str
    status: str


class TransientProviderError(Exception):
    """The provider did not take the message (refused the connection, 429, 503): a retry sends it once."""

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class AmbiguousProviderError(TransientProviderError):
    """The request went out and no answer came back (timeout, connection lost, 500/502/504): the provider may
    have accepted the message. A retry must resolve this first (see ``activities.notifications``)."""


class PermanentProviderError(Exception):
    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status  # the HTTP status, where there was one


@dataclass(frozen=True)
class Guarantees:
    """What a provider's send API guarantees, as its documentation says."""

    # a request header the provider honours: a resend with it makes no second message
    idempotency_header: str | None
    lookup: str  # how a message whose answer was lost can be found
    receipts: str  # how the provider reports a message's status back
    receipt_carries_key: bool  # our per-message callback URL names the message: a receipt resolves it
    # how long the provider remembers an idempotency key: a resend later than this is a new message
    idempotency_window_s: float | None = None


class Provider(Protocol):
    name: str
    guarantees: Guarantees

    async def send(self, delivery: Delivery) -> str: ...

    async def lookup(self, delivery: Delivery) -> Found | None:
        """The message as the provider has it, where its API can be asked (None: not found, or it cannot be
        asked). Raises ``TransientProviderError`` when asking failed."""
        ...


class NoLookup:
    """A provider whose API cannot be asked whether it took a message."""

    async def lookup(self, delivery: Delivery) -> Found | None:
        return None


def email_message_id(idempotency_key: str) -> str:
    """A Message-ID derived from the key: a re-send after a crash carries the same id."""
    return f"<{hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]}@keeptime>"


SMTP_POLICY = email.policy.SMTP.clone(max_line_length=998)


class SmtpEmailProvider(NoLookup):
    name = "smtp"
    # SMTP (RFC 5321) has no request key and no way to ask whether a message was taken: the 250 after DATA is
    # the only acceptance, and a connection lost before it leaves the outcome unknown. Receipts are delivery
    # status notifications (RFC 3461), sent for failures by most servers, not per accepted message. The stable
    # Message-ID lets mail clients thread a duplicate with its original, nothing more.
    guarantees = Guarantees(
        idempotency_header=None,
        lookup="none (RFC 5321)",
        receipts="DSN on failure only (RFC 3461)",
        receipt_carries_key=False,
    )

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    async def send(self, delivery: Delivery) -> str:
        s = self._settings
        # RFC 5322 allows lines up to 998 characters; the default 78 would fold the List-Unsubscribe URI into
        # RFC 2047 encoded words, which RFC 2369's angle-bracketed URIs do not allow.
        message = EmailMessage(policy=SMTP_POLICY)
        message["From"] = s.smtp_sender
        message["To"] = delivery.address
        message["Subject"] = delivery.message.subject
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = email_message_id(delivery.idempotency_key)
        message["X-Keeptime-Key"] = delivery.idempotency_key
        if delivery.unsubscribe_url:
            # RFC 8058 section 3.1: an HTTPS URI in List-Unsubscribe plus this exact List-Unsubscribe-Post
            # value lets a mail client unsubscribe with one POST of "List-Unsubscribe=One-Click" (the MTA's
            # DKIM signature must cover both headers).
            message["List-Unsubscribe"] = f"<{delivery.unsubscribe_url}>"
            message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        message.set_content(delivery.message.text)
        if delivery.message.html:
            message.add_alternative(delivery.message.html, subtype="html")
        try:
            await aiosmtplib.send(
                # Flattened here: aiosmtplib flattens an EmailMessage with its own 78-column policy.
                message.as_bytes(policy=SMTP_POLICY),
                sender=parseaddr(s.smtp_sender)[1],
                recipients=[delivery.address],
                hostname=s.smtp_host,
                port=s.smtp_port,
                username=s.smtp_username,
                password=s.smtp_password.get_secret_value() if s.smtp_password else None,
                start_tls=s.smtp_starttls,
                use_tls=s.smtp_use_tls,
                timeout=s.provider_timeout_s,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            error = PermanentProviderError if all(c >= 500 for c in codes) else TransientProviderError
            raise error(f"recipient refused: {exc}") from exc
        except aiosmtplib.SMTPResponseException as exc:
            error = PermanentProviderError if exc.code >= 500 else TransientProviderError
            raise error(f"SMTP {exc.code}: {exc.message}") from exc
        except (
            aiosmtplib.SMTPConnectError,
            aiosmtplib.SMTPConnectTimeoutError,
            ConnectionRefusedError,
        ) as exc:
            raise TransientProviderError(f"SMTP unavailable: {type(exc).__name__}: {exc}") from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            # Connected, then lost (or timed out) somewhere in the dialogue: maybe after the server took DATA.
            raise AmbiguousProviderError(f"SMTP outcome unknown: {type(exc).__name__}: {exc}") from exc
        return str(message["Message-ID"])


async def _http_post(
    http: aiohttp.ClientSession,
    url: str,
    *,
    timeout_s: float,
    headers: dict[str, str],
    form: dict[str, str] | None = None,
    json_body: Mapping[str, object] | None = None,
) -> dict[str, object]:
    """One provider call. Not taken (connection refused, 408, 429, 503): transient. Sent without an answer
    (timeout, connection lost, 500, 502, 504: a gateway or the provider may have processed it): ambiguous.
    Other 4xx: permanent."""
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    try:
        async with http.post(url, data=form, json=json_body, headers=headers, timeout=timeout) as response:
            body = await response.text()
            if response.status < 300:
                try:
                    data = json.loads(body) if body else {}
                except json.JSONDecodeError:
                    data = {}  # accepted all the same; the message id stays unknown
                return dict(data) if isinstance(data, dict) else {}
            detail = f"HTTP {response.status}: {body[:300]}"
            retry_after = _retry_after(response.headers.get("Retry-After"))
            if response.status in (500, 502, 504):
                raise AmbiguousProviderError(detail, retry_after_s=retry_after)
            if response.status in (408, 429) or response.status >= 500:
                raise TransientProviderError(detail, retry_after_s=retry_after)
            raise PermanentProviderError(detail, status=response.status)
    except aiohttp.ClientConnectorError as exc:  # no connection: the request never left
        raise TransientProviderError(f"{type(exc).__name__}: {exc}") from exc
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise AmbiguousProviderError(f"{type(exc).__name__}: {exc}") from exc


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None  # an HTTP-date; fall back to the retry policy's backoff


class HttpProvider:
    """A provider reached over HTTP with the worker's shared session."""

    def __init__(self, settings: Settings, http: aiohttp.ClientSession) -> None:
        self._settings = settings
        self._http = http


class TwilioSmsProvider(HttpProvider):
    """Form POST to ``/2010-04-01/Accounts/{sid}/Messages.json`` with basic auth, as Twilio's REST API."""

    name = "twilio"
    # The Messages API takes no idempotency key: the create parameters are To, From, Body, StatusCallback, ...
    # (https://www.twilio.com/docs/messaging/api/message-resource#create-a-message-resource). Twilio *sends*
    # I-Twilio-Idempotency-Token on its own webhook requests so that receivers can drop retries
    # (https://www.twilio.com/docs/usage/webhooks/webhooks-connection-overrides); it does not honour one sent
    # to it. A lost answer can be looked for with GET Messages.json?To=&From=&DateSent= (matching the body);
    # status changes come to the per-message StatusCallback URL, which names our log row
    # (https://www.twilio.com/docs/messaging/guides/outbound-message-status-in-status-callbacks).
    guarantees = Guarantees(
        idempotency_header=None,
        lookup="GET Messages.json filtered by To and From, matched by the body",
        receipts="StatusCallback per message (sent, delivered, undelivered, failed)",
        receipt_carries_key=True,
    )

    async def send(self, delivery: Delivery) -> str:
        s = self._settings
        assert s.twilio_account_sid and s.twilio_auth_token and s.twilio_from_number
        form = {"To": delivery.address, "From": s.twilio_from_number, "Body": delivery.message.text}
        if delivery.status_callback:
            form["StatusCallback"] = delivery.status_callback  # names our message: see ``guarantees``
        url, auth = self._messages()
        data = await _http_post(
            self._http, url, timeout_s=s.provider_timeout_s, form=form, headers={"Authorization": auth}
        )
        return str(data.get("sid", ""))

    def _messages(self) -> tuple[str, str]:
        """The account's Messages resource (create and list) and its basic-auth header value."""
        s = self._settings
        assert s.twilio_account_sid and s.twilio_auth_token
        url = f"{s.twilio_base_url.rstrip('/')}/2010-04-01/Accounts/{s.twilio_account_sid}/Messages.json"
        return url, aiohttp.encode_basic_auth(s.twilio_account_sid, s.twilio_auth_token.get_secret_value())

    async def lookup(self, delivery: Delivery) -> Found | None:
        """Twilio's Messages list, filtered by To and From (most recent first, as the list is sorted),
        matched by the body: the message an attempt whose answer was lost made, if Twilio has it. Not
        filtered by DateSent: a message still queued has no date_sent yet and would be missed; the newest
        page of one recipient from our number is enough to find a message sent minutes ago
        (https://www.twilio.com/docs/messaging/api/message-resource#read-multiple-message-resources)."""
        s = self._settings
        assert s.twilio_from_number
        url, auth = self._messages()
        params = {"To": delivery.address, "From": s.twilio_from_number, "PageSize": "50"}
        try:
            async with self._http.get(
                url,
                params=params,
                headers={"Authorization": auth},
                timeout=aiohttp.ClientTimeout(total=s.provider_timeout_s),
            ) as response:
                if response.status >= 300:
                    raise TransientProviderError(f"lookup: HTTP {response.status}")
                page = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise TransientProviderError(f"lookup: {type(exc).__name__}: {exc}") from exc
        messages = page.get("messages") if isinstance(page, dict) else None
        for message in messages if isinstance(messages, list) else []:
            if isinstance(message, dict) and message.get("body") == delivery.message.text:
                return Found(str(message.get("sid", "")), str(message.get("status", "")))
        return None


class FcmPushProvider(NoLookup, HttpProvider):
    """POST to ``/v1/projects/{id}/messages:send`` with a bearer token, as FCM HTTP v1."""

    name = "fcm"
    # The request body is {validate_only, message} and nothing else; there is no request key and no way to
    # look a message up (https://firebase.google.com/docs/reference/fcm/rest/v1/projects.messages/send).
    # Delivery data exists only in aggregate or in the BigQuery export, not per message to the sender. The app
    # can drop a repeat by data.idempotency_key; the server cannot.
    guarantees = Guarantees(
        idempotency_header=None,
        lookup="none",
        receipts="none per message (aggregate data, BigQuery export)",
        receipt_carries_key=False,
    )

    async def send(self, delivery: Delivery) -> str:
        s = self._settings
        assert s.fcm_project_id and s.fcm_access_token
        body = {
            "message": {
                "token": delivery.address,
                "notification": {"title": delivery.message.subject, "body": delivery.message.text},
                # FCM has no server-side idempotency; the app can collapse repeats by this key.
                "data": {"idempotency_key": delivery.idempotency_key, **delivery.data},
            }
        }
        data = await _http_post(
            self._http,
            f"{s.fcm_base_url.rstrip('/')}/v1/projects/{s.fcm_project_id}/messages:send",
            timeout_s=s.provider_timeout_s,
            json_body=body,
            headers={"Authorization": f"Bearer {s.fcm_access_token.get_secret_value()}"},
        )
        return str(data.get("name", ""))


class TelnyxSmsProvider(NoLookup, HttpProvider):
    """JSON POST to ``/v2/messages`` with a bearer key, as Telnyx's Messaging API."""

    name = "telnyx"
    # Telnyx honours Idempotency-Key: a successful response is replayed for 24 hours to a request with the
    # same key, method, path and byte-identical body; the same key with another body is a 422
    # (https://developers.telnyx.com/docs/development/api-fundamentals/idempotency). So a resend after an
    # ambiguous attempt, with the same key and body, cannot make a second message. Status events
    # (message.sent, message.finalized) go to the per-message webhook_url
    # (https://developers.telnyx.com/docs/messaging/messages/receiving-webhooks).
    guarantees = Guarantees(
        idempotency_header="Idempotency-Key",
        lookup="the replayed response of a resend with the same Idempotency-Key",
        receipts="webhook_url per message (message.sent, message.finalized)",
        receipt_carries_key=False,
        idempotency_window_s=24 * 3600,
    )

    async def send(self, delivery: Delivery) -> str:
        s = self._settings
        assert s.telnyx_api_key and s.telnyx_from_number
        # Byte-identical on a resend (Telnyx compares bodies): the text is the one stored with the claim
        # before the first send (``NotificationLog.rendered``), never rendered again.
        body = {"from": s.telnyx_from_number, "to": delivery.address, "text": delivery.message.text}
        try:
            data = await _http_post(
                self._http,
                f"{s.telnyx_base_url.rstrip('/')}/v2/messages",
                timeout_s=s.provider_timeout_s,
                json_body=body,
                headers={
                    "Authorization": f"Bearer {s.telnyx_api_key.get_secret_value()}",
                    # Telnyx's key pattern is ^[A-Za-z0-9_:-]{1,255}$: ours is hashed into it, stable per
                    # message.
                    "Idempotency-Key": telnyx_key(delivery.idempotency_key),
                },
            )
        except PermanentProviderError as exc:
            # On a resend, a 422 is what Telnyx answers when the key was used with another body (or is
            # still being processed): the first request may have made the message. Not a rejection.
            if exc.status == 422 and delivery.resend:
                raise AmbiguousProviderError(f"resend refused: {exc}") from exc
            raise
        payload = data.get("data")
        return str(payload.get("id", "")) if isinstance(payload, dict) else ""


def telnyx_key(idempotency_key: str) -> str:
    return "keeptime-" + hashlib.sha256(idempotency_key.encode()).hexdigest()


class ConsoleProvider(NoLookup):
    """Logs the rendered message; what a newcomer's embedded stack uses for every unconfigured channel."""

    name = "console"
    guarantees = Guarantees(
        idempotency_header=None, lookup="none", receipts="none", receipt_carries_key=False
    )

    def __init__(self, channel: str) -> None:
        self._channel = channel

    async def send(self, delivery: Delivery) -> str:
        log.info(
            "[console %s] to %s | %s | %s",
            self._channel,
            delivery.address,
            delivery.message.subject,
            delivery.message.text.replace("\n", " / "),
        )
        return "console-" + hashlib.sha256(delivery.idempotency_key.encode()).hexdigest()[:16]


def build_providers(settings: Settings, http: aiohttp.ClientSession) -> dict[str, Provider]:
    """The provider for each channel: the real one when configured, else the console."""
    return {
        "email": SmtpEmailProvider(settings) if settings.smtp_host else ConsoleProvider("email"),
        "sms": _sms_provider(settings, http),
        "push": FcmPushProvider(settings, http)
        if settings.fcm_project_id and settings.fcm_access_token
        else ConsoleProvider("push"),
    }


def _sms_provider(settings: Settings, http: aiohttp.ClientSession) -> Provider:
    if settings.sms_provider == "telnyx" and settings.telnyx_api_key and settings.telnyx_from_number:
        return TelnyxSmsProvider(settings, http)
    if settings.twilio_account_sid and settings.twilio_auth_token and settings.twilio_from_number:
        return TwilioSmsProvider(settings, http)
    return ConsoleProvider("sms")
