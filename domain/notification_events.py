"""What each notification event is about, when it is still worth sending, and how it is delivered."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from domain.automation import QuietHours
from domain.notification_types import NotificationRequest
from domain.preferences import Category
from domain.timekeeping import adjust_for_quiet_hours

Audience = Literal["customer", "admin", "staff"]  # staff: the company user the message is about


@dataclass(frozen=True)
class EventSpec:
    entity_type: str
    live_statuses: frozenset[str]  # the entity must be in one of these when the message goes out
    quiet_hours: bool  # reminders respect quiet hours; transactional messages go out at once
    audience: Audience = "customer"
    channels: tuple[str, ...] | None = (
        None  # only these channels (e.g. SMS alerts); None: the customer's order
    )
    category: Category = "transactional"  # what a customer can turn off (domain.preferences)


def _spec(entity: str, statuses: set[str], *, quiet: bool, audience: Audience = "customer") -> EventSpec:
    return EventSpec(entity, frozenset(statuses), quiet, audience)


EVENTS: dict[str, EventSpec] = {
    "appointment.booked": _spec("appointment", {"pending", "confirmed"}, quiet=False),
    "appointment.confirmed": _spec("appointment", {"confirmed"}, quiet=False),
    "appointment.rescheduled": _spec("appointment", {"pending", "confirmed"}, quiet=False),
    "appointment.reminder": replace(_spec("appointment", {"confirmed"}, quiet=True), category="reminders"),
    "appointment.cancelled": _spec("appointment", {"cancelled"}, quiet=False),
    "appointment.no_show": _spec("appointment", {"no_show"}, quiet=True),
    "appointment.review_request": replace(
        _spec("appointment", {"completed"}, quiet=True), category="review_requests"
    ),
    "appointment.review_reminder": replace(
        _spec("appointment", {"completed"}, quiet=True), category="review_requests"
    ),
    "appointment.admin_new_booking": _spec(
        "appointment", {"pending", "confirmed"}, quiet=False, audience="admin"
    ),
    # The business's daily digest (``admin_alerts: daily_digest``); the "status" is the business's alert mode.
    "business.admin_digest": _spec("business", {"daily_digest"}, quiet=False, audience="admin"),
    "broadcast.message": replace(_spec("broadcast", {"running"}, quiet=False), category="announcements"),
    "vaccination.expiring": EventSpec(
        "vaccination", frozenset({"valid", "expiring_soon"}), False, channels=("sms",), category="reminders"
    ),
    "vaccination.expired": EventSpec("vaccination", frozenset({"expired"}), False, channels=("sms",)),
    "policy.expired": _spec("policy", {"expired"}, quiet=True),
    # Construction: a staff user's weekly digest of their projects (admins: all active projects); the
    # "status" is whether they have any.
    "staff.project_digest": replace(
        _spec("staff_user", {"has_projects"}, quiet=False, audience="staff"), channels=("email",)
    ),
    # A staff notification (an overdue invoice, a shortage, ...) beyond the app, at once on the user's
    # channels (domain.staff_notify); "live" until it is read in the app or archived.
    "staff.notification": _spec("staff_notification", {"live"}, quiet=False, audience="staff"),
    # The day's notifications of a user in digest mode, one e-mail; "has_notices" while one is unread.
    "staff.digest": replace(
        _spec("staff_user", {"has_notices"}, quiet=False, audience="staff"), channels=("email",)
    ),
}

CHANNELS: tuple[str, ...] = ("email", "sms", "push")
TEMPLATE_PARTS: dict[str, tuple[str, ...]] = {
    "email": ("subject", "text", "html"),
    "sms": ("text",),
    "push": ("subject", "text"),
}


def event_spec(event: str) -> EventSpec:
    try:
        return EVENTS[event]
    except KeyError:
        raise ValueError(f"unknown event {event!r}; known: {sorted(EVENTS)}") from None


def delivery_instant(
    request: NotificationRequest, planned_for: datetime, *, now: datetime, zone: ZoneInfo, quiet: QuietHours
) -> datetime | None:
    """When a message planned for ``planned_for`` may go out: as planned for events without quiet hours,
    else outside the recipient's quiet hours and before the request's deadline (None: no useful time left).
    The planning activity and the settings preview both decide it here."""
    if not event_spec(request.event).quiet_hours:
        return planned_for
    return adjust_for_quiet_hours(
        planned_for, now=now, deadline=request.deadline, zone=zone, start=quiet.start, end=quiet.end
    )
