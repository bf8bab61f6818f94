"""Keeptime's typed async client (see README.md)."""

from keeptime_client.client import OPERATIONS, Keeptime
from keeptime_client.errors import (
    Conflict,
    KeeptimeError,
    NotFound,
    RateLimited,
    ServerError,
    Unauthorized,
    Unavailable,
    ValidationFailed,
)
from keeptime_client.models import (
    Appointment,
    Customer,
    Event,
    EventPage,
    Fee,
    WebhookAttempt,
    WebhookEndpoint,
)
from keeptime_client.webhooks import WebhookVerificationError, verify

__all__ = [
    "OPERATIONS",
    "Appointment",
    "Conflict",
    "Customer",
    "Event",
    "EventPage",
    "Fee",
    "Keeptime",
    "KeeptimeError",
    "NotFound",
    "RateLimited",
    "ServerError",
    "Unauthorized",
    "Unavailable",
    "ValidationFailed",
    "WebhookAttempt",
    "WebhookEndpoint",
    "WebhookVerificationError",
    "verify",
]
