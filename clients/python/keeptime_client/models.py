"""What the API answers, as typed dicts (the JSON as it comes; instants are RFC 3339 strings).

The repository's tests compare each with the component of the same role in ``/openapi.json``: a field the
server adds or drops fails them."""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict


class Appointment(TypedDict):
    id: int
    customer_id: int
    service: str | None
    resource: str | None
    status: str
    starts_at: str
    ends_at: str
    version: int
    cancel_reason: str | None
    checked_in_at: str | None
    completed_at: str | None
    workflow_id: str
    external_id: str | None
    metadata: dict[str, str] | None
    outcome: NotRequired[Literal["created", "unchanged", "rescheduled", "updated"]]  # upserts only


class Customer(TypedDict):
    id: int
    name: str
    email: str | None
    phone: str | None
    push_token: str | None
    time_zone: str | None
    locale: str
    channel_order: list[str]
    email_opted_in: bool
    sms_opted_in: bool
    push_opted_in: bool
    preferences: dict[str, bool]
    reputation_score: int
    external_id: str | None
    metadata: dict[str, str] | None
    outcome: NotRequired[Literal["created", "unchanged", "updated"]]  # upserts only


class Event(TypedDict):
    id: str  # evt_<number>: deduplicate by it
    type: str
    occurred_at: str
    entity: str  # e.g. appointment:42
    data: dict[str, Any]
    catalogue_version: str


class EventPage(TypedDict):
    items: list[Event]
    next_cursor: str | None
    has_more: bool


class Fee(TypedDict):
    id: int
    appointment_id: int
    customer_id: int
    kind: str
    amount_cents: int
    status: str
    payment_reference: str | None
    created_at: str
    paid_at: str | None
    waived_at: str | None


class WebhookEndpoint(TypedDict):
    id: int
    url: str
    description: str | None
    event_types: list[str] | None
    enabled: bool
    disabled_reason: str | None
    failing_since: str | None
    secret: str | None  # only in the answers of create and rotate_webhook_secret
    previous_secret_expires_at: str | None
    created_at: str
    updated_at: str


class WebhookAttempt(TypedDict):
    id: int
    event_id: str
    attempt: int
    at: str
    status_code: int | None
    latency_ms: int
    ok: bool
    error: str | None
