"""Types that cross the Temporal boundary for appointments: ids, statuses and instants, no personal data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from domain.automation import AutomationSettings
from domain.notification_types import NotificationRequest
from domain.statuses import AppointmentStatus

Status = AppointmentStatus
Action = Literal["confirm", "check_in", "complete", "no_show", "cancel", "reschedule"]
ACTIVE_STATUSES: frozenset[str] = frozenset({"pending", "confirmed", "checked_in"})


@dataclass(frozen=True)
class Transition:
    allowed_from: frozenset[str]
    target: str

    def accepts(self, status: str) -> bool:
        """Possible from ``status``, or already done (a repeat, answered with the current state)."""
        return status in self.allowed_from or status == self.target


# The status machine, shared by the workflow's update validators and the activity that writes it.
TRANSITIONS: dict[str, Transition] = {
    "confirm": Transition(frozenset({"pending"}), "confirmed"),
    "check_in": Transition(frozenset({"pending", "confirmed"}), "checked_in"),
    "complete": Transition(frozenset({"confirmed", "checked_in"}), "completed"),
    "no_show": Transition(frozenset({"confirmed"}), "no_show"),
    "cancel": Transition(frozenset({"pending", "confirmed"}), "cancelled"),
}
RESCHEDULABLE: frozenset[str] = frozenset({"pending", "confirmed"})


class AppointmentRef(BaseModel):
    appointment_id: int
    business_id: int


class AppointmentSnapshot(BaseModel):
    """The appointment as PostgreSQL has it, plus the business settings the workflow plans with."""

    appointment_id: int
    business_id: int
    customer_id: int
    status: Status
    starts_at: datetime
    ends_at: datetime
    version: int
    time_zone: str
    automation: AutomationSettings
    checked_in_at: datetime | None = None
    completed_at: datetime | None = None
    reviewed: bool = False
    settings_revision: int = Field(default=0, description="the business's settings revision read")
    invalid_settings: list[str] = Field(
        default_factory=list, description="stored settings out of range: the defaults apply to these"
    )
    sent_slots: list[str] = Field(
        default_factory=list,
        description="reminders the notification log has as sent, '<offset>@<starts_at>', any version",
    )


class TransitionInput(BaseModel):
    """One status change, written in one transaction. Retries are safe: an applied change is a no-op."""

    appointment_id: int
    business_id: int
    action: Action
    reason: str | None = None
    by: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    to_version: int | None = Field(default=None, description="reschedule: the version it creates")
    at: datetime | None = Field(
        default=None,
        description="when it happened, on the workflow's clock (its steps); None: when it is written",
    )


class SkipNotificationInput(BaseModel):
    request: NotificationRequest
    reason: str
    failed: bool = Field(default=False, description="record it as a failed step, not a skip")
    detail: str | None = Field(default=None, description="what an operator should know")


class CancelInput(BaseModel):
    """Signal ``cancel``: ``temporal workflow signal --name cancel --input '{"reason": "..."}'``."""

    reason: str = "cancelled"
    by: str = "operator"


class RescheduleInput(BaseModel):
    starts_at: datetime
    ends_at: datetime


class StepInput(BaseModel):
    """Input of the updates that need nothing but the call (``confirm``, ``check_in`` ...)."""

    by: str = "operator"


class ReviewSubmittedInput(BaseModel):
    rating: int = Field(ge=1, le=5)


class MessageRecord(BaseModel):
    event: str
    status: str
    channel: str | None = None
    reason: str | None = None
    at: datetime


class TakenStep(BaseModel):
    """A timeline step as the workflow took it: what the settings preview forecast, step for step."""

    label: str = Field(description="e.g. '24h reminder', 'no-show check', 'review request'")
    kind: str
    at: datetime
    outcome: str = Field(description="send, skip: <reason>, or the status it led to")


class AppointmentState(BaseModel):
    """Everything the workflow knows; carried whole across continue-as-new."""

    snapshot: AppointmentSnapshot
    handled: list[str] = Field(
        default_factory=list, description="timeline steps done, e.g. 'reminder:86400:v2'"
    )
    planned: dict[str, datetime] = Field(
        default_factory=dict, description="step -> delivery time (quiet hours)"
    )
    outbox: list[NotificationRequest] = Field(default_factory=list)
    messages: list[MessageRecord] = Field(default_factory=list)
    review_requested_at: datetime | None = None
    cancel_request: CancelInput | None = None
    booked_announced: bool = False
    sent_slots: list[str] = Field(
        default_factory=list, description="reminders sent, as '<offset>@<starts_at>': one per slot, ever"
    )
    last_reminder_at: dict[str, datetime] = Field(
        default_factory=dict, description="'v<version>' -> when its latest reminder went out"
    )
    settings_wanted: int = Field(default=0, description="a settings_changed signal's revision, not read yet")
    already_reminded: list[str] = Field(
        default_factory=list,
        description="reminder steps a settings change added before a reminder already sent: skipped",
    )
    taken: list[TakenStep] = Field(default_factory=list, description="the steps taken, latest last")


class AppointmentInput(BaseModel):
    appointment_id: int
    business_id: int
    snapshot: AppointmentSnapshot | None = Field(default=None, description="the row at booking, if known")
    carried: AppointmentState | None = Field(default=None, description="state handed over by continue-as-new")
    continue_as_new_after_events: int = Field(default=2_000, description="history length that triggers it")


class NextAction(BaseModel):
    kind: str
    label: str
    at: datetime


class AppointmentView(BaseModel):
    """The ``state`` query, and what every update returns."""

    appointment_id: int
    status: Status
    starts_at: datetime
    ends_at: datetime
    version: int
    next_action: NextAction | None
    sleeping: bool = Field(default=False, description="waiting durably for next_action (nothing in flight)")
    messages: list[MessageRecord]
    steps: list[TakenStep] = Field(
        default_factory=list, description="the timeline's steps as taken (the latest 50): what, when, outcome"
    )
