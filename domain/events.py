"""The event catalogue: what Keeptime tells a business's own systems happened (pure).

Closed and versioned: every event has one of ``EVENT_TYPES`` and that type's payload model, and the
catalogue's ``CATALOGUE_VERSION`` changes when a payload does (fields are only ever added). Payloads carry
ids, statuses, instants and amounts; never a customer's name, phone or e-mail (the business has them, and
Keeptime's histories and events keep the no-personal-data promise).

Each event is written in the transaction of the change it reports (``db.events.record``: an outbox), so
there is no event without its change and no change without its event.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

CATALOGUE_VERSION = "2026-12-08.1"  # 2026-12-07.2: appointments carry external_id; 12-08.1: review.requested,
# call.scheduled / skipped / capped, daily_plan.submitted / missed

EventType = Literal[
    "appointment.booked",
    "appointment.confirmed",
    "appointment.checked_in",
    "appointment.rescheduled",
    "appointment.cancelled",
    "appointment.completed",
    "appointment.no_show",
    "fee.applied",
    "fee.paid",
    "fee.waived",
    "invoice.issued",
    "invoice.overdue",
    "invoice.paid",
    "invoice.written_off",
    "review.requested",
    "review.received",
    "call.scheduled",
    "call.skipped",
    "call.capped",
    "call.answered",
    "call.completed",
    "call.declined",
    "call.no_answer",
    "call.failed",
    "call.cancelled",
    "policy.renewed",
    "policy.expired",
    "daily_plan.submitted",
    "daily_plan.missed",
    "notification.sent",
    "notification.delivered",
    "notification.failed",
    "notification.suppressed",
    "webhook_endpoint.disabled",
]


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AppointmentPayload(Payload):
    """An appointment as it is after the change."""

    appointment_id: int
    customer_id: int
    status: str
    starts_at: datetime
    ends_at: datetime
    version: int = Field(description="grows with every reschedule")
    service: str | None
    resource: str | None
    cancelled_by: str | None = Field(default=None, description="appointment.cancelled: customer or business")
    external_id: str | None = Field(default=None, description="your own id of the appointment (2026-12-07.2)")


class FeePayload(Payload):
    """A no-show fee written for the payment system to collect."""

    fee_id: int
    appointment_id: int
    customer_id: int
    kind: str
    amount_cents: int
    status: str
    payment_reference: str | None = Field(default=None, description="fee.paid: the payment system's id")


class InvoicePayload(Payload):
    """An invoice as it is after the change."""

    invoice_id: int
    number: str
    status: str
    amount_cents: int
    currency: str
    due_on: date
    version: int
    external_id: str | None = Field(default=None, description="your own id of the invoice (2026-12-08.1)")


class ReviewPayload(Payload):
    """A customer's review of an appointment (the text stays in Keeptime: it may name people)."""

    review_id: int
    appointment_id: int
    customer_id: int
    rating: int
    has_text: bool


class ReviewRequestPayload(Payload):
    """The review request went out to the customer (the message's ``notification.sent`` beside it)."""

    appointment_id: int
    customer_id: int | None
    log_id: int = Field(description="the message's log row (its notification events name it too)")
    channel: str | None
    requested_at: datetime


class CallPayload(Payload):
    """A renewal call's outcome: the customer picked up, agreed or not (``renewal_agreed``), declined,
    did not answer; or the call failed or was cancelled (``reason``)."""

    call_id: int
    policy_id: int
    kind: str = Field(description="automatic or manual")
    status: str
    renewal_agreed: bool | None
    scheduled_for: datetime | None


class CallCappedPayload(Payload):
    """The daily call cap moved a policy's call to the next day (an automatic call has no ``call_id`` yet)."""

    policy_id: int
    call_id: int | None
    kind: str = Field(description="automatic or manual")
    retry_at: datetime = Field(description="when the call is tried again")
    placed_today: int
    max_calls_per_day: int


class DailyPlanPayload(Payload):
    """A project's daily plan: submitted, or its deadline passed while a draft (the admins were told)."""

    daily_plan_id: int
    project_id: int
    plan_date: date
    status: str
    deadline: datetime | None = Field(default=None, description="daily_plan.missed: the deadline that passed")
    alerted: int | None = Field(default=None, description="daily_plan.missed: staff members alerted")


class PolicyPayload(Payload):
    policy_id: int
    customer_id: int
    status: str
    term: int
    end_date: date
    external_id: str | None = Field(default=None, description="your own id of the policy (2026-12-08.1)")


class NotificationPayload(Payload):
    """One message on one channel (``channel`` None: decided before any channel was tried), as logged."""

    log_id: int
    message_key: str = Field(description="entity, event, recipient id, instant: the message's name")
    about: str = Field(description="what the message is about, e.g. appointment:42")
    event: str = Field(description="the message, e.g. appointment.reminder_24h")
    customer_id: int | None
    channel: str | None
    provider: str | None
    status: str
    reason: str | None = Field(description="why it was suppressed or failed, e.g. quiet_hours, cancelled")
    scheduled_for: datetime | None


class WebhookEndpointPayload(Payload):
    """A webhook endpoint Keeptime stopped delivering to (its deliveries failed for ``failing_since`` on)."""

    endpoint_id: int
    url: str
    status: str
    failing_since: datetime | None
    reason: str


PAYLOADS: dict[str, type[Payload]] = {
    "appointment.booked": AppointmentPayload,
    "appointment.confirmed": AppointmentPayload,
    "appointment.checked_in": AppointmentPayload,
    "appointment.rescheduled": AppointmentPayload,
    "appointment.cancelled": AppointmentPayload,
    "appointment.completed": AppointmentPayload,
    "appointment.no_show": AppointmentPayload,
    "fee.applied": FeePayload,
    "fee.paid": FeePayload,
    "fee.waived": FeePayload,
    "invoice.issued": InvoicePayload,
    "invoice.overdue": InvoicePayload,
    "invoice.paid": InvoicePayload,
    "invoice.written_off": InvoicePayload,
    "review.requested": ReviewRequestPayload,
    "review.received": ReviewPayload,
    "call.scheduled": CallPayload,
    "call.skipped": CallPayload,
    "call.capped": CallCappedPayload,
    "call.answered": CallPayload,
    "call.completed": CallPayload,
    "call.declined": CallPayload,
    "call.no_answer": CallPayload,
    "call.failed": CallPayload,
    "call.cancelled": CallPayload,
    "policy.renewed": PolicyPayload,
    "policy.expired": PolicyPayload,
    "daily_plan.submitted": DailyPlanPayload,
    "daily_plan.missed": DailyPlanPayload,
    "notification.sent": NotificationPayload,
    "notification.delivered": NotificationPayload,
    "notification.failed": NotificationPayload,
    "notification.suppressed": NotificationPayload,
    "webhook_endpoint.disabled": WebhookEndpointPayload,
}
EVENT_TYPES: tuple[str, ...] = tuple(PAYLOADS)
# The appointment status an event of each transition reports (domain.statuses values).
APPOINTMENT_STATUS_EVENTS: dict[str, str] = {
    "confirmed": "appointment.confirmed",
    "checked_in": "appointment.checked_in",
    "cancelled": "appointment.cancelled",
    "completed": "appointment.completed",
    "no_show": "appointment.no_show",
}
CALL_STATUS_EVENTS: dict[str, str] = {
    status: f"call.{status}"
    for status in (
        "scheduled",
        "skipped",
        "answered",
        "completed",
        "declined",
        "no_answer",
        "failed",
        "cancelled",
    )
}
INVOICE_STATUS_EVENTS: dict[str, str] = {
    "sent": "invoice.issued",
    "overdue": "invoice.overdue",
    "paid": "invoice.paid",
    "written_off": "invoice.written_off",
}


class Event(BaseModel):
    """One event as the feed and the webhooks carry it."""

    id: str = Field(description="evt_<number>: the receiver deduplicates by it")
    type: str
    occurred_at: datetime
    entity: str = Field(description="e.g. appointment:42")
    data: dict[str, object]
    catalogue_version: str = CATALOGUE_VERSION


def event_id(row_id: int) -> str:
    return f"evt_{row_id}"


def payload_of(event_type: str, payload: Payload) -> dict[str, object]:
    """The payload as stored, checked against the catalogue (a mismatch is a bug here, not bad input)."""
    model = PAYLOADS[event_type]
    if not isinstance(payload, model):
        raise TypeError(f"{event_type} carries {model.__name__}, not {type(payload).__name__}")
    return payload.model_dump(mode="json")
