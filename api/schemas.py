"""Request bodies the API accepts (unknown fields are rejected, each error names its field)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, field_validator, model_validator

from keeptime.automation import AutomationSettings, validate_time_zone

TimeZone = Annotated[str, AfterValidator(validate_time_zone)]
Phone = Annotated[str, Field(pattern=r"^\+[1-9][0-9]{6,14}$", description="E.164, e.g. +4915112345678")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Patch(Strict):
    """A partial update: a field may be left out, but only ``NULLABLE`` fields may be set to null."""

    NULLABLE: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _no_nulls(self) -> Patch:
        nulls = [f for f in self.model_fields_set if getattr(self, f) is None and f not in self.NULLABLE]
        if nulls:
            raise ValueError(f"{', '.join(sorted(nulls))} cannot be null")
        return self


class BusinessCreate(Strict):
    name: str = Field(min_length=1, max_length=200)
    time_zone: TimeZone
    admin_email: EmailStr | None = None
    automation: AutomationSettings = Field(default_factory=AutomationSettings)


class BusinessUpdate(Patch):
    NULLABLE = frozenset({"admin_email"})

    name: str | None = Field(default=None, min_length=1, max_length=200)
    time_zone: TimeZone | None = None
    admin_email: EmailStr | None = None
    automation: AutomationSettings | None = None


class CustomerFields(Strict):
    email: EmailStr | None = None
    phone: Phone | None = None
    push_token: str | None = Field(default=None, max_length=512)
    time_zone: TimeZone | None = None
    locale: str | None = Field(default=None, pattern=r"^[a-z]{2}(_[A-Z]{2})?$")
    channel_order: list[str] | None = None
    email_opted_in: bool | None = None
    sms_opted_in: bool | None = None
    push_opted_in: bool | None = None

    @field_validator("channel_order")
    @classmethod
    def _known_channels(cls, order: list[str] | None) -> list[str] | None:
        if order is None:
            return None
        unknown = [c for c in order if c not in ("email", "sms", "push")]
        if unknown or len(set(order)) != len(order) or not order:
            raise ValueError("a non-empty list of distinct channels from email, sms, push")
        return order


class CustomerCreate(CustomerFields):
    name: str = Field(min_length=1, max_length=200)


class CustomerUpdate(CustomerFields, Patch):
    NULLABLE = frozenset({"email", "phone", "push_token", "time_zone"})

    name: str | None = Field(default=None, min_length=1, max_length=200)


class SingleNotification(Strict):
    customer_id: int = Field(gt=0)
    subject: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=1600)
    planned_for: datetime | None = Field(default=None, description="deliver at (quiet hours do not apply)")

    @field_validator("planned_for")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("must include a UTC offset, e.g. 2030-01-01T09:00:00Z")
        return value


class BroadcastCreate(Strict):
    subject: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=1600)
    customer_ids: list[int] | None = Field(default=None, min_length=1, max_length=100_000)
    all_customers: bool = False
    rate_per_s: float | None = Field(default=None, gt=0, le=10_000)

    @model_validator(mode="after")
    def _one_audience(self) -> BroadcastCreate:
        if (self.customer_ids is None) == (not self.all_customers):
            raise ValueError("give either customer_ids or all_customers: true")
        return self


class TemplateOverrideBody(Strict):
    body: str = Field(min_length=1, max_length=10_000)


class PushReceipt(Strict):
    message_id: str = Field(min_length=1, max_length=255)
    status: str = Field(pattern="^(delivered|failed)$")
    error: str | None = Field(default=None, max_length=500)


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("must include a UTC offset, e.g. 2030-01-01T09:00:00Z")
    return value


AwareDatetime = Annotated[datetime, AfterValidator(_aware)]


class TimeRange(Strict):
    starts_at: AwareDatetime
    ends_at: AwareDatetime

    @model_validator(mode="after")
    def _ordered(self) -> TimeRange:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class AppointmentCreate(TimeRange):
    customer_id: int = Field(gt=0)
    service: str | None = Field(default=None, max_length=200)
    resource: str | None = Field(default=None, max_length=120)


class Reschedule(TimeRange):
    pass


class CancelBody(Strict):
    reason: str = Field(default="cancelled", min_length=1, max_length=500)
    by: str = Field(default="business", min_length=1, max_length=64)


class ReviewBody(Strict):
    rating: int = Field(ge=1, le=5)
    text: str | None = Field(default=None, max_length=5000)


class PetCreate(Strict):
    owner_id: int = Field(gt=0, description="the customer who owns the pet")
    name: str = Field(min_length=1, max_length=120)
    species: str | None = Field(default=None, max_length=60)


class VaccinationCreate(Strict):
    pet_id: int = Field(gt=0)
    vaccine: str = Field(min_length=1, max_length=120)
    administered_at: AwareDatetime | None = None
    expires_at: AwareDatetime

    @model_validator(mode="after")
    def _after_administered(self) -> VaccinationCreate:
        if self.administered_at is not None and self.expires_at <= self.administered_at:
            raise ValueError("expires_at must be after administered_at")
        return self


class PolicyCreate(Strict):
    customer_id: int = Field(gt=0)
    policy_number: str = Field(min_length=1, max_length=64)
    product: str | None = Field(default=None, max_length=120)
    duration_months: int = Field(ge=1, le=120, description="a renewal extends the end date by this much")
    end_date: date = Field(description="last day of cover; the policy expires at the next local midnight")


class PolicyUpdate(Patch):
    """Changing ``end_date`` moves the policy's call timeline and expiry (its workflow re-plans)."""

    NULLABLE: ClassVar[frozenset[str]] = frozenset({"product"})

    product: str | None = Field(default=None, max_length=120)
    duration_months: int | None = Field(default=None, ge=1, le=120)
    end_date: date | None = None


class ManualCallCreate(Strict):
    policy_id: int = Field(gt=0)
    scheduled_for: AwareDatetime = Field(description="when to call (the daily and concurrency caps apply)")


class CallSummaryBody(Strict):
    """The voice agent's summary of an answered call."""

    renewal_agreed: bool
    summary: str | None = Field(default=None, max_length=20_000)


class TriggerCallsBody(Strict):
    within_days: int = Field(
        default=0, ge=0, le=366, description="calls planned up to this many days after today (0: today)"
    )


class CallCleanupBody(Strict):
    older_than_days: int = Field(default=30, ge=1, le=3650)
