"""Types that cross the Temporal boundary for notifications. No personal data: ids, events and instants."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

EntityType = Literal[
    "appointment", "broadcast", "business", "policy", "vaccination", "staff_user", "staff_notification"
]
DeliveryStatus = Literal["sent", "delivered", "skipped", "failed"]
BroadcastState = Literal["running", "cancelling", "completed", "cancelled"]


class NotificationRequest(BaseModel):
    """One message to one recipient about one entity, as a workflow asks for it."""

    business_id: int
    entity_type: EntityType
    entity_id: int
    event: str = Field(description="template family, e.g. 'appointment.reminder'")
    variant: str | None = Field(default=None, description="e.g. '24h' for the 24-hour reminder")
    customer_id: int | None = Field(default=None, description="None: the business's admin address")
    scheduled_for: datetime | None = Field(default=None, description="the instant this message belongs to")
    entity_version: int | None = Field(
        default=None, description="e.g. the appointment version it was planned for"
    )
    deadline: datetime | None = Field(default=None, description="past this instant the message is useless")
    due_at: datetime | None = Field(
        default=None, description="when it was planned to go out (the lateness metric); not part of its key"
    )

    @property
    def event_name(self) -> str:
        """What the log and the timeline show, e.g. ``appointment.reminder_24h``."""
        return f"{self.event}_{self.variant}" if self.variant else self.event

    @property
    def recipient(self) -> str:
        if self.entity_type == "staff_user":
            return f"staff:{self.entity_id}"  # a company user's own message (the weekly project digest)
        if self.entity_type == "staff_notification":
            return "staff"  # the notification's row names its user
        return f"customer:{self.customer_id}" if self.customer_id is not None else "admin"

    def message_key(self) -> str:
        """Deterministic name of this message: entity, event, recipient, and the instant or version."""
        instant = self.scheduled_for.isoformat() if self.scheduled_for else "-"
        version = f"v{self.entity_version}" if self.entity_version is not None else "-"
        key = f"{self.entity_type}:{self.entity_id}:{self.event_name}:{self.recipient}:{instant}:{version}"
        if len(key) > 200:  # keep the UNIQUE index small and bounded
            key = key[:150] + ":" + hashlib.sha256(key.encode()).hexdigest()[:40]
        return key

    def idempotency_key(self, channel: str) -> str:
        return f"{self.message_key()}:{channel}"


class NotificationResult(BaseModel):
    status: DeliveryStatus
    message_key: str
    channel: str | None = None
    provider: str | None = None
    provider_message_id: str | None = None
    reason: str | None = Field(
        default=None, description="why skipped or failed, e.g. 'cancelled', 'no_channel'"
    )


class PlanNotificationInput(BaseModel):
    request: NotificationRequest
    planned_for: datetime
    now: datetime = Field(description="the workflow's clock (workflow.now()), not the activity's")


class DeliveryPlan(BaseModel):
    """When to send (quiet hours applied), or the skip already recorded in the log."""

    deliver_at: datetime | None
    skipped: NotificationResult | None = None
    planned_at: datetime | None = Field(
        default=None,
        description="the worker's clock when the plan was made: a local activity's result is in the history, "
        "so a wait set in the same workflow task can be measured from it (workflow.now() stands still while "
        "the task runs)",
    )


class BroadcastBatchInput(BaseModel):
    broadcast_id: int
    business_id: int
    after_customer_id: int = 0
    limit: int = 200


class BroadcastProgress(BaseModel):
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    last_customer_id: int = 0
    done: bool = False

    def add(self, other: BroadcastProgress) -> BroadcastProgress:
        return BroadcastProgress(
            sent=self.sent + other.sent,
            skipped=self.skipped + other.skipped,
            failed=self.failed + other.failed,
            last_customer_id=other.last_customer_id,
            done=other.done,
        )


class FinishBroadcastInput(BaseModel):
    broadcast_id: int
    status: Literal["completed", "cancelled"]
    progress: BroadcastProgress


class SendNotificationInput(BaseModel):
    """Input of NotificationWorkflow: one message, planned for an instant (default: now)."""

    request: NotificationRequest
    planned_for: datetime | None = None


class BroadcastInput(BaseModel):
    """Input of BroadcastWorkflow; ``progress`` carries the counts across continue-as-new."""

    broadcast_id: int
    business_id: int
    batch_size: int = 200
    batches_per_run: int = Field(default=50, description="continue-as-new after this many batches")
    rate_per_s: float | None = Field(
        default=None, description="cap on messages per second for this broadcast"
    )
    progress: BroadcastProgress = Field(default_factory=BroadcastProgress)


class BroadcastStatus(BaseModel):
    """What the ``progress`` query and the final result report."""

    broadcast_id: int
    state: BroadcastState
    progress: BroadcastProgress
