"""How a company user wants to hear of what Keeptime tells them (pure).

Every staff notification is an in-app row first (``in_app_notifications``, made in the producer's
transaction). The ``staff-notices`` job then decides, by the user's preferences as they are at that moment,
whether it also goes out at once by e-mail or SMS (``immediate``, the channels tried in the user's order,
the next one when one fails), waits for the user's daily digest e-mail (``digest``, at ``digest_time``
company-local, DST-correct), or stays in the app (``in_app``, or a ``muted`` family). The decision is
stored on the row, so a later change of preferences never re-sends or drops what was decided before.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from domain.admin_digest import next_digest_at
from domain.limits import LocalTime

StaffDelivery = Literal["immediate", "digest", "in_app"]
Decision = Literal["immediate", "digest", "in_app", "muted"]
StaffChannel = Literal["email", "sms"]
# What a user can mute: the family of the events the producers tell (invoice.overdue, invoice.overdue_7d,
# inventory.shortage, touch_ups.high_priority, daily_plan.incomplete).
StaffFamily = Literal["invoice", "inventory", "touch_ups", "daily_plan"]
FAMILIES: tuple[str, ...] = ("invoice", "inventory", "touch_ups", "daily_plan")
DEFAULT_DIGEST_TIME = time(8, 0)
NOTICE_EVENT = "staff.notification"  # one notification, at once (e-mail or SMS)
DIGEST_EVENT = "staff.digest"  # the day's notifications of a user in digest mode, one e-mail


def email_only() -> list[StaffChannel]:
    return ["email"]


class StaffNotifyPrefs(BaseModel):
    """A user's delivery preferences (stored on ``staff_users.notify``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    delivery: StaffDelivery = Field(
        default="immediate",
        description="immediate: e-mail or SMS at once; digest: one e-mail a day; in_app: only in the app",
    )
    channels: list[StaffChannel] = Field(
        default_factory=email_only,
        min_length=1,
        max_length=2,
        description="immediate deliveries try these in order (the next when one fails); sms needs a phone",
        json_schema_extra={"uniqueItems": True},
    )
    digest_time: LocalTime = Field(
        default=DEFAULT_DIGEST_TIME, description="company-local wall time of the daily digest, e.g. 08:00"
    )
    muted: list[StaffFamily] = Field(
        default_factory=list,
        max_length=len(FAMILIES),
        description="families that stay in the app whatever the delivery",
        json_schema_extra={"uniqueItems": True},
    )

    @field_validator("channels", "muted")
    @classmethod
    def _distinct(cls, values: list[str]) -> list[str]:
        if len(set(values)) != len(values):
            raise ValueError("items must be distinct")
        return values

    @classmethod
    def from_stored(cls, raw: Any) -> StaffNotifyPrefs:
        """The stored preferences; a row that does not parse (written outside the API) is the default, so
        one bad row never stops the job (the API only ever stores valid ones)."""
        try:
            return cls.model_validate(raw or {})
        except ValidationError:
            return cls()

    def stored(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def decide(self, event: str) -> Decision:
        """What becomes of one notification of ``event`` under these preferences."""
        if event.split(".", 1)[0] in self.muted:
            return "muted"
        return self.delivery

    def channels_with(self, addresses: dict[str, str | None]) -> list[str]:
        """The immediate channels in the user's order that have an address."""
        return [channel for channel in self.channels if addresses.get(channel)]


def digest_at_for(created_at: datetime, prefs: StaffNotifyPrefs, zone: ZoneInfo) -> datetime:
    """The digest a notification made at ``created_at`` goes into: the first digest instant after it."""
    return next_digest_at(created_at, prefs.digest_time, zone)


class StaffNoticesRunInput(BaseModel):
    """Input of StaffNoticesWorkflow; ``at`` is fixed by the workflow, so a retried activity sees one
    instant. Up to ``batch_size`` rows decided and messages started a run: the next run (a minute later)
    goes on."""

    at: datetime | None = None
    batch_size: int = Field(default=200, ge=1, le=1_000)
