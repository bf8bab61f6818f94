"""The async client: one ``Keeptime`` per API key, over one aiohttp session."""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, cast
from urllib.parse import quote

import aiohttp

from keeptime_client.errors import KeeptimeError, error_for
from keeptime_client.models import (
    Appointment,
    Customer,
    Event,
    EventPage,
    Fee,
    WebhookAttempt,
    WebhookEndpoint,
)

RETRIED = frozenset({429, 503})
# Every method's operation, as /openapi.json names it (method, path): the repository's tests check them.
OPERATIONS: dict[str, tuple[str, str]] = {
    "book_appointment": ("POST", "/v1/appointments"),
    "upsert_appointment": ("PUT", "/v1/appointments/by-external-id/{external_id}"),
    "appointment_by_external_id": ("GET", "/v1/appointments/by-external-id/{external_id}"),
    "get_appointment": ("GET", "/v1/appointments/{appointment_id}"),
    "appointments": ("GET", "/v1/appointments"),
    "reschedule_appointment": ("POST", "/v1/appointments/{appointment_id}/reschedule"),
    "cancel_appointment": ("POST", "/v1/appointments/{appointment_id}/cancel"),
    "create_customer": ("POST", "/v1/customers"),
    "upsert_customer": ("PUT", "/v1/customers/by-external-id/{external_id}"),
    "customer_by_external_id": ("GET", "/v1/customers/by-external-id/{external_id}"),
    "events_page": ("GET", "/v1/events"),
    "fees": ("GET", "/v1/fees"),
    "mark_fee_paid": ("POST", "/v1/fees/{fee_id}/paid"),
    "waive_fee": ("POST", "/v1/fees/{fee_id}/waive"),
    "create_webhook_endpoint": ("POST", "/v1/webhook-endpoints"),
    "webhook_endpoints": ("GET", "/v1/webhook-endpoints"),
    "update_webhook_endpoint": ("PATCH", "/v1/webhook-endpoints/{endpoint_id}"),
    "delete_webhook_endpoint": ("DELETE", "/v1/webhook-endpoints/{endpoint_id}"),
    "rotate_webhook_secret": ("POST", "/v1/webhook-endpoints/{endpoint_id}/rotate-secret"),
    "replay_events": ("POST", "/v1/webhook-endpoints/{endpoint_id}/replay"),
    "webhook_attempts": ("GET", "/v1/webhook-endpoints/{endpoint_id}/attempts"),
}


def _instant(value: datetime | str) -> str:
    return value.isoformat() if isinstance(value, datetime) else value


def _given(**values: Any) -> dict[str, Any]:
    """The body's fields that were given (None: left out, so the server's default or the stored value)."""
    return {k: v for k, v in values.items() if v is not None}


class Keeptime:
    """``async with Keeptime(base_url, api_key) as kt: ...``

    ``max_retries``: how many times a 429 or 503, or a lost connection, is retried (after ``Retry-After``
    when the answer has one, at most ``max_wait_s``; else 0.5 s doubling, jittered). Writes carry an
    ``Idempotency-Key`` (``idempotency_key=`` or a new UUID), the same on every retry, so a retry never
    does a thing twice."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        session: aiohttp.ClientSession | None = None,
        max_retries: int = 4,
        max_wait_s: float = 30.0,
        timeout_s: float = 30.0,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {api_key}", "User-Agent": "keeptime-client/0.1"}
        self._session = session
        self._owns_session = session is None
        self._max_retries = max_retries
        self._max_wait_s = max_wait_s
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def __aenter__(self) -> Keeptime:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    # --- the transport ---------------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Any:
        """One API call with its retries; the answer's JSON (None for 204). Raises a ``KeeptimeError``."""
        if self._session is None:
            raise RuntimeError("use `async with Keeptime(...)` (or pass session=)")
        headers = dict(self._headers)
        if method != "GET":
            headers["Idempotency-Key"] = idempotency_key or str(uuid.uuid4())
        query = {k: str(v) for k, v in (params or {}).items() if v is not None}
        for attempt in range(self._max_retries + 1):
            try:
                async with self._session.request(
                    method, self._base + path, json=body, params=query, headers=headers, timeout=self._timeout
                ) as answer:
                    if answer.status in RETRIED and attempt < self._max_retries:
                        await asyncio.sleep(self._wait(attempt, answer.headers.get("Retry-After")))
                        continue
                    if answer.status == 204:
                        return None
                    payload = await answer.json(content_type=None) if await answer.read() else None
                    if answer.status >= 400:
                        raise error_for(answer.status, payload)
                    return payload
            except (aiohttp.ClientConnectionError, TimeoutError):
                if attempt >= self._max_retries:
                    raise
                await asyncio.sleep(self._wait(attempt, None))
        raise AssertionError("unreachable")  # pragma: no cover

    def _wait(self, attempt: int, retry_after: str | None) -> float:
        """Retry-After (RFC 9110 sec. 10.2.3: delay-seconds or an HTTP-date), else jittered backoff."""
        if retry_after:
            try:
                return min(self._max_wait_s, max(0.0, float(retry_after)))
            except ValueError:
                pass
            try:
                when = email.utils.parsedate_to_datetime(retry_after)
            except (TypeError, ValueError):
                when = None
            if when is not None:
                return min(self._max_wait_s, max(0.0, when.timestamp() - time.time()))
        backoff: float = 0.5 * 2.0**attempt
        return min(self._max_wait_s, backoff) * random.uniform(0.5, 1.0)

    # --- appointments ----------------------------------------------------------------------------------

    async def book_appointment(
        self,
        *,
        customer_id: int,
        starts_at: datetime | str,
        ends_at: datetime | str,
        service: str | None = None,
        resource: str | None = None,
        external_id: str | None = None,
        metadata: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> Appointment:
        body = _given(
            customer_id=customer_id,
            starts_at=_instant(starts_at),
            ends_at=_instant(ends_at),
            service=service,
            resource=resource,
            external_id=external_id,
            metadata=dict(metadata) if metadata is not None else None,
        )
        return cast(
            Appointment,
            await self.request("POST", "/v1/appointments", body=body, idempotency_key=idempotency_key),
        )

    async def upsert_appointment(
        self,
        external_id: str,
        *,
        customer_id: int,
        starts_at: datetime | str,
        ends_at: datetime | str,
        service: str | None = None,
        resource: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> Appointment:
        """Book it the first time, nothing for the same again, reschedule for another slot (``outcome``)."""
        body = _given(
            customer_id=customer_id,
            starts_at=_instant(starts_at),
            ends_at=_instant(ends_at),
            service=service,
            resource=resource,
            metadata=dict(metadata) if metadata is not None else None,
        )
        path = f"/v1/appointments/by-external-id/{quote(external_id, safe='')}"
        return cast(Appointment, await self.request("PUT", path, body=body))

    async def appointment_by_external_id(self, external_id: str) -> Appointment:
        return cast(
            Appointment,
            await self.request("GET", f"/v1/appointments/by-external-id/{quote(external_id, safe='')}"),
        )

    async def get_appointment(self, appointment_id: int) -> dict[str, Any]:
        """The appointment with its workflow's state and its notification timeline."""
        return cast(dict[str, Any], await self.request("GET", f"/v1/appointments/{appointment_id}"))

    async def appointments(
        self,
        *,
        updated_after: datetime | str | None = None,
        status: str | None = None,
        external_id: str | None = None,
        page_size: int = 100,
    ) -> AsyncIterator[Appointment]:
        """Every appointment, page by page (``next_cursor``): by start time, or with ``updated_after`` by
        their last change (poll with a minute of overlap, or follow ``events()``, which skips nothing)."""
        params: dict[str, Any] = {
            "updated_after": _instant(updated_after) if updated_after is not None else None,
            "status": status,
            "external_id": external_id,
            "limit": page_size,
        }
        cursor: str | None = None
        while True:
            page = await self.request("GET", "/v1/appointments", params={**params, "after": cursor})
            for appointment in page["items"]:
                yield cast(Appointment, appointment)
            cursor = page["next_cursor"]
            if cursor is None:
                return

    async def reschedule_appointment(
        self, appointment_id: int, *, starts_at: datetime | str, ends_at: datetime | str
    ) -> dict[str, Any]:
        body = {"starts_at": _instant(starts_at), "ends_at": _instant(ends_at)}
        return cast(
            dict[str, Any],
            await self.request("POST", f"/v1/appointments/{appointment_id}/reschedule", body=body),
        )

    async def cancel_appointment(
        self, appointment_id: int, *, reason: str | None = None, by: str | None = None
    ) -> dict[str, Any] | None:
        body = _given(reason=reason, by=by)
        return cast(
            dict[str, Any] | None,
            await self.request("POST", f"/v1/appointments/{appointment_id}/cancel", body=body),
        )

    # --- customers -------------------------------------------------------------------------------------

    async def create_customer(
        self, *, name: str, idempotency_key: str | None = None, **fields: Any
    ) -> Customer:
        """``fields``: email, phone, time_zone, locale, channel_order, the opt-ins, external_id, metadata."""
        body = _given(name=name, **fields)
        return cast(
            Customer, await self.request("POST", "/v1/customers", body=body, idempotency_key=idempotency_key)
        )

    async def upsert_customer(self, external_id: str, *, name: str, **fields: Any) -> Customer:
        path = f"/v1/customers/by-external-id/{quote(external_id, safe='')}"
        return cast(Customer, await self.request("PUT", path, body=_given(name=name, **fields)))

    async def customer_by_external_id(self, external_id: str) -> Customer:
        return cast(
            Customer, await self.request("GET", f"/v1/customers/by-external-id/{quote(external_id, safe='')}")
        )

    # --- events ----------------------------------------------------------------------------------------

    async def events_page(
        self, *, after: str | None = None, types: Sequence[str] | None = None, limit: int = 100
    ) -> EventPage:
        params = {"after": after, "type": ",".join(types) if types else None, "limit": limit}
        return cast(EventPage, await self.request("GET", "/v1/events", params=params))

    async def events(
        self, *, after: str | None = None, types: Sequence[str] | None = None, page_size: int = 100
    ) -> AsyncIterator[Event]:
        """Every event after ``after`` (None: the oldest kept) until the feed has no more now. Keep the
        last page's ``next_cursor`` (``events_page``) to continue later."""
        cursor = after
        while True:
            page = await self.events_page(after=cursor, types=types, limit=page_size)
            for event in page["items"]:
                yield event
            cursor = page["next_cursor"]
            if not page["has_more"]:
                return

    # --- fees ------------------------------------------------------------------------------------------

    async def fees(self, *, status: str | None = None, page_size: int = 100) -> AsyncIterator[Fee]:
        after: int | None = None
        while True:
            page = await self.request(
                "GET", "/v1/fees", params={"status": status, "after": after, "limit": page_size}
            )
            for fee in page["items"]:
                yield cast(Fee, fee)
            after = page["next_after"]
            if after is None:
                return

    async def mark_fee_paid(self, fee_id: int, reference: str | None = None) -> Fee:
        return cast(
            Fee, await self.request("POST", f"/v1/fees/{fee_id}/paid", body=_given(reference=reference))
        )

    async def waive_fee(self, fee_id: int, reason: str | None = None) -> Fee:
        return cast(Fee, await self.request("POST", f"/v1/fees/{fee_id}/waive", body=_given(reason=reason)))

    # --- webhook endpoints -----------------------------------------------------------------------------

    async def create_webhook_endpoint(
        self,
        url: str,
        *,
        event_types: Sequence[str] | None = None,
        description: str | None = None,
        enabled: bool | None = None,
    ) -> WebhookEndpoint:
        """The endpoint with its ``secret`` (shown in this answer and in a rotation's only)."""
        body = _given(
            url=url,
            event_types=list(event_types) if event_types else None,
            description=description,
            enabled=enabled,
        )
        return cast(WebhookEndpoint, await self.request("POST", "/v1/webhook-endpoints", body=body))

    async def webhook_endpoints(self, *, page_size: int = 100) -> AsyncIterator[WebhookEndpoint]:
        after: int | None = None
        while True:
            page = await self.request(
                "GET", "/v1/webhook-endpoints", params={"after": after, "limit": page_size}
            )
            for endpoint in page["items"]:
                yield cast(WebhookEndpoint, endpoint)
            after = page["next_after"]
            if after is None:
                return

    async def update_webhook_endpoint(self, endpoint_id: int, **changes: Any) -> WebhookEndpoint:
        """``changes``: url, description, event_types, enabled."""
        return cast(
            WebhookEndpoint, await self.request("PATCH", f"/v1/webhook-endpoints/{endpoint_id}", body=changes)
        )

    async def delete_webhook_endpoint(self, endpoint_id: int) -> None:
        try:
            await self.request("DELETE", f"/v1/webhook-endpoints/{endpoint_id}")
        except KeeptimeError as error:
            if error.status != 404:  # a repeat after a lost answer: it is gone, as asked
                raise

    async def rotate_webhook_secret(
        self, endpoint_id: int, *, idempotency_key: str | None = None
    ) -> WebhookEndpoint:
        """A new secret; the old one signs beside it for 24 h. A retry (the same key) rotates nothing."""
        path = f"/v1/webhook-endpoints/{endpoint_id}/rotate-secret"
        return cast(WebhookEndpoint, await self.request("POST", path, idempotency_key=idempotency_key))

    async def replay_events(
        self,
        endpoint_id: int,
        *,
        event_id: str | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
    ) -> int:
        """Deliver again one event, or those of ``[since, until)``; how many go out."""
        body = _given(
            event_id=event_id,
            since=_instant(since) if since is not None else None,
            until=_instant(until) if until is not None else None,
        )
        answer = await self.request("POST", f"/v1/webhook-endpoints/{endpoint_id}/replay", body=body)
        return int(answer["replayed"])

    async def webhook_attempts(self, endpoint_id: int, *, limit: int = 100) -> list[WebhookAttempt]:
        """The endpoint's latest delivery attempts, newest first."""
        page = await self.request(
            "GET", f"/v1/webhook-endpoints/{endpoint_id}/attempts", params={"limit": limit}
        )
        return [cast(WebhookAttempt, a) for a in page["items"]]
