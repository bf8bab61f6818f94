"""A business's automation settings (stored as JSONB on ``businesses.automation``), validated here."""

from __future__ import annotations

import functools
import zoneinfo
from datetime import time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from domain.limits import (
    MAX_OFFSET_S,
    Cents,
    FieldValueError,
    Inconsistent,
    LocalTime,
    OffsetSeconds,
    Seconds,
)
from domain.timekeeping import zone_or_none


class QuietHours(BaseModel):
    """Recipient-local hours in which reminders are not delivered; ``start == end`` disables them."""

    model_config = ConfigDict(extra="forbid")

    start: LocalTime = time(21, 0)
    end: LocalTime = time(8, 0)


class AutomationSettings(BaseModel):
    """Every offset, delay and switch a business can set. All durations are in seconds."""

    model_config = ConfigDict(extra="forbid")

    booking_mode: Literal["confirm_automatically", "require_confirmation"] = "confirm_automatically"
    reminder_offsets_s: list[OffsetSeconds] = Field(
        default_factory=lambda: [24 * 3600, 2 * 3600],
        max_length=10,
        json_schema_extra={"uniqueItems": True},
        description="up to 10, distinct",
    )
    reminder_cutoff_s: int = Field(
        default=30 * 60,
        ge=0,
        le=MAX_OFFSET_S,
        description="no reminder later than this before start; shorter than the shortest reminder offset "
        "(else 422 inconsistent)",
    )
    no_show_grace_s: Seconds = 15 * 60
    auto_complete_delay_s: Seconds = 35 * 60
    review_request_delay_s: Seconds = 2 * 3600
    review_reminder_delay_s: Seconds = 7 * 24 * 3600
    no_show_fee_cents: Cents = 0
    no_show_reputation_penalty: int = Field(default=10, ge=0, le=100)
    quiet_hours: QuietHours = Field(default_factory=QuietHours)
    attendance: Literal["check_in", "assume_attended"] = Field(
        default="check_in",
        description="check_in: confirmed without check-in is a no-show at start + grace (salons, clinics); "
        "assume_attended: confirmed completes at start + auto_complete_delay_s, no no-show (restaurants)",
    )
    notify_admin_on_booking: bool = True
    admin_alerts: Literal["each", "daily_digest"] = Field(
        default="each",
        description="each: an e-mail per booking (if notify_admin_on_booking); daily_digest: one e-mail a "
        "day at admin_digest_time listing the day's bookings, cancellations and no-shows (none if empty)",
    )
    admin_digest_time: LocalTime = Field(default=time(18, 0), description="business-local time of the digest")
    prevent_overlaps: bool = False
    vaccination_alert_days: list[Annotated[int, Field(ge=1, le=366)]] = Field(
        default_factory=lambda: [30, 14, 7], max_length=10, json_schema_extra={"uniqueItems": True}
    )
    expiry_alert_local_time: LocalTime = Field(
        default=time(10, 0), description="business-local time of expiry alerts"
    )

    invoice_escalation_days: list[Annotated[int, Field(ge=2, le=366)]] = Field(
        default_factory=lambda: [7, 14, 30],
        max_length=10,
        json_schema_extra={"uniqueItems": True},
        description="construction: admins and accounting are told again when an invoice is this many days "
        "overdue (up to 10 distinct whole days, 2 to 366; day 1 is the overdue notice itself)",
    )

    daily_plan_deadline: LocalTime = Field(
        default=time(17, 0),
        description="construction: a project's daily plan still in draft at this company-local time on its "
        "day is alerted to admins and PMs",
    )

    inventory_shortage_reminders: Literal["once", "daily"] = Field(
        default="once",
        description="construction: an item below its threshold is told to admins and PMs once per crossing; "
        "'daily' tells them again at each morning's inventory-shortage-check while it lasts",
    )

    @field_validator("invoice_escalation_days")
    @classmethod
    def _escalation_days(cls, days: list[int]) -> list[int]:
        if any(d < 2 or d > 366 for d in days) or len(set(days)) != len(days) or len(days) > 10:
            raise ValueError("up to 10 distinct whole days between 2 and 366")
        return sorted(days)

    @field_validator("vaccination_alert_days")
    @classmethod
    def _alert_days(cls, days: list[int]) -> list[int]:
        if any(d <= 0 or d > 366 for d in days) or len(set(days)) != len(days) or len(days) > 10:
            raise ValueError("up to 10 distinct whole days between 1 and 366")
        return sorted(days, reverse=True)

    @field_validator("reminder_offsets_s")
    @classmethod
    def _positive_distinct(cls, offsets: list[int]) -> list[int]:
        if any(o <= 0 for o in offsets):
            raise ValueError("reminder offsets must be positive numbers of seconds")
        if len(set(offsets)) != len(offsets):
            raise ValueError("reminder offsets must be distinct")
        if len(offsets) > 10:
            raise ValueError("at most 10 reminders")
        return sorted(offsets, reverse=True)

    @model_validator(mode="after")
    def _cutoff_below_offsets(self) -> AutomationSettings:
        if self.reminder_offsets_s and self.reminder_cutoff_s >= min(self.reminder_offsets_s):
            raise Inconsistent(
                "reminder_cutoff_s", "reminder_cutoff_s must be shorter than the shortest reminder offset"
            )
        return self

    @classmethod
    def from_stored(cls, raw: object) -> StoredSettings:
        """Read settings from a row; never raises. A row that is bad anyway (stored before a range was
        enforced, or edited by hand) gets the defaults and names what was wrong, for an operator to see."""
        values = dict(raw) if isinstance(raw, dict) else {}
        invalid: set[str] = set() if isinstance(raw, dict) or raw is None else {"automation"}
        for _ in range(len(values) + 1):  # each round drops at least one field: bounded
            try:
                return StoredSettings(settings=cls.model_validate(values), invalid=sorted(invalid))
            except ValidationError as exc:
                at_fault = {_blamed(err) for err in exc.errors()}
                invalid |= at_fault
                values = {k: v for k, v in values.items() if k not in at_fault}
        return StoredSettings(settings=cls(), invalid=sorted(invalid | set(values)))


def _blamed(error: Any) -> str:
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, FieldValueError):
        return cause.field
    return str(error["loc"][0]) if error["loc"] else "automation"


class StoredSettings(BaseModel):
    settings: AutomationSettings
    invalid: list[str] = Field(description="fields that were out of range; the defaults apply instead")


@functools.cache
def time_zone_names() -> tuple[str, ...]:
    """The IANA zones this machine knows, sorted: what the API accepts and its document lists
    (``zoneinfo.available_timezones``). ``ZoneInfo`` would also open files such as ``localtime`` that
    name no zone, or a different one on another machine; they are refused."""
    return tuple(sorted(zoneinfo.available_timezones()))


def validate_time_zone(name: str) -> str:
    """The IANA name if it is one this machine knows, else ValueError naming it."""
    if name not in time_zone_names() or zone_or_none(name) is None:
        raise ValueError(f"unknown IANA time zone {name!r}")
    return name
