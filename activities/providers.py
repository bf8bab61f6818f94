"""Delivery providers: SMTP e-mail, Twilio-compatible SMS, FCM v1-compatible push, and the console.

Each takes a rendered message and the idempotency key and returns the provider's message id, or raises
``TransientProviderError`` (retry later, maybe after ``retry_after_s``) or ``PermanentProviderError``.
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


@dataclass(frozen=True)
class Delivery:
    address: str
    message: RenderedMessage
    idempotency_key: str
    status_callback: str | None = None
    data: dict[str, str] = field(default_factory=dict)
    unsubscribe_url: str | None = None  # non-transactional e-mail: RFC 8058 one-click unsubscribe


class TransientProviderError(Exception):
    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class PermanentProviderError(Exception):
    pass


class Provider(Protocol):
    name: str

    async def send(self, delivery: Delivery) -> str: ...


def email_message_id(idempotency_key: str) -> str:
    """A Message-ID derived from the key: a re-send after a crash carries the same id."""
    return f"<{hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]}@keeptime>"


SMTP_POLICY = email.policy.SMTP.clone(max_line_length=998)


class SmtpEmailProvider:
    name = "smtp"

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
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise TransientProviderError(f"SMTP unavailable: {type(exc).__name__}: {exc}") from exc
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
    """One provider call, mapping failures to transient (timeouts, 408, 429, 5xx) or permanent (other 4xx)."""
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    try:
        async with http.post(url, data=form, json=json_body, headers=headers, timeout=timeout) as response:
            body = await response.text()
            if response.status < 300:
                data = json.loads(body) if body else {}
                return dict(data) if isinstance(data, dict) else {}
            detail = f"HTTP {response.status}: {body[:300]}"
            if response.status in (408, 429) or response.status >= 500:
                raise TransientProviderError(
                    detail, retry_after_s=_retry_after(response.headers.get("Retry-After"))
                )
            raise PermanentProviderError(detail)
    except (aiohttp.ClientError, TimeoutError, json.JSONDecodeError) as exc:
        raise TransientProviderError(f"{type(exc).__name__}: {exc}") from exc


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None  # an HTTP-date; fall back to the retry policy's backoff


class TwilioSmsProvider:
    """Form POST to ``/2010-04-01/Accounts/{sid}/Messages.json`` with basic auth, as Twilio's REST API."""

    name = "twilio"

    def __init__(self, settings: Settings, http: aiohttp.ClientSession) -> None:
        self._settings = settings
        self._http = http

    async def send(self, delivery: Delivery) -> str:
        s = self._settings
        assert s.twilio_account_sid and s.twilio_auth_token and s.twilio_from_number
        form = {"To": delivery.address, "From": s.twilio_from_number, "Body": delivery.message.text}
        if delivery.status_callback:
            form["StatusCallback"] = delivery.status_callback
        data = await _http_post(
            self._http,
            f"{s.twilio_base_url.rstrip('/')}/2010-04-01/Accounts/{s.twilio_account_sid}/Messages.json",
            timeout_s=s.provider_timeout_s,
            form=form,
            headers={
                "Authorization": aiohttp.encode_basic_auth(
                    s.twilio_account_sid, s.twilio_auth_token.get_secret_value()
                ),
                "I-Twilio-Idempotency-Token": delivery.idempotency_key,
            },
        )
        return str(data.get("sid", ""))


class FcmPushProvider:
    """POST to ``/v1/projects/{id}/messages:send`` with a bearer token, as FCM HTTP v1."""

    name = "fcm"

    def __init__(self, settings: Settings, http: aiohttp.ClientSession) -> None:
        self._settings = settings
        self._http = http

    async def send(self, delivery: Delivery) -> str:
        s = self._settings
        assert s.fcm_project_id and s.fcm_access_token
        body = {
            "message": {
                "token": delivery.address,
                "notification": {"title": delivery.message.subject, "body": delivery.message.text},
                # FCM has no server-side idempotency; the app collapses repeats by this key.
                "data": {"idempotency_key": delivery.idempotency_key, **delivery.data},
            }
        }
        data = await _http_post(
            self._http,
            f"{s.fcm_base_url.rstrip('/')}/v1/projects/{s.fcm_project_id}/messages:send",
            timeout_s=s.provider_timeout_s,
            json_body=body,
            headers={
                "Authorization": f"Bearer {s.fcm_access_token.get_secret_value()}",
                "Idempotency-Key": delivery.idempotency_key,
            },
        )
        return str(data.get("name", ""))


class ConsoleProvider:
    """Logs the rendered message; what a newcomer's embedded stack uses for every unconfigured channel."""

    name = "console"

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
        "sms": TwilioSmsProvider(settings, http)
        if settings.twilio_account_sid and settings.twilio_auth_token and settings.twilio_from_number
        else ConsoleProvider("sms"),
        "push": FcmPushProvider(settings, http)
        if settings.fcm_project_id and settings.fcm_access_token
        else ConsoleProvider("push"),
    }
