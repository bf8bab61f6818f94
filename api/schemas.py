"""Request bodies the API accepts (unknown fields are rejected, each error names its field)."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

import email_validator
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from domain.automation import AutomationSettings, validate_time_zone
from domain.limits import (
    COMPONENT_MARK,
    MAX_FEE_CENTS,
    MAX_INVOICE_CENTS,
    MAX_STOCK,
    Day,
    DbId,
    ExternalId,
    FieldValueError,
    Inconsistent,
    Instant,
    LocaleName,
    LocalTime,
    Metadata,
)
from domain.locales import CatalogLocaleName
from domain.preferences import Preferences
from domain.staff_notify import (
    DEFAULT_DIGEST_TIME,
    FAMILIES,
    StaffChannel,
    StaffDelivery,
    StaffFamily,
    email_only,
)
from domain.statuses import StaffRole, TouchUpPriority, TouchUpStatus

# The document lists the zone names once, as the TimeZone component; api.openapi puts a $ref to it where
# the mark is (a $ref here would be resolved by pydantic, which does not know the component).
TimeZone = Annotated[
    str,
    Field(max_length=64),
    AfterValidator(validate_time_zone),
    WithJsonSchema({"type": "string", COMPONENT_MARK: "TimeZone"}),
]
# email-validator (behind pydantic's EmailStr) refuses the special-use domains of RFC 6761 and others
# (its SPECIAL_USE_DOMAIN_NAMES: arpa, invalid, local, localhost, onion, test): nothing is delivered there.
# The pattern says so in the document, case-insensitively, as a lookahead (ECMA-262, JSON Schema's dialect).
_SPECIAL_USE = "|".join(
    "".join(f"[{c}{c.upper()}]" for c in name) for name in email_validator.SPECIAL_USE_DOMAIN_NAMES
)
Email = Annotated[
    EmailStr,
    WithJsonSchema(
        {"type": "string", "format": "email", "pattern": f"^(?!.*[@.]({_SPECIAL_USE})$)"},
    ),
]
Phone = Annotated[str, Field(pattern=r"^\+[1-9][0-9]{6,14}$", description="E.164, e.g. +4915112345678")]


def _declared(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """pydantic's ``json_schema_extra`` hook: a model adds to its own schema what its validators enforce
    and pydantic cannot derive (``Strict.declare``), so the document states every rule it can."""
    declare = getattr(model, "declare", None)
    if declare is not None:
        declare(schema)


class Strict(BaseModel):
    """A request body: unknown fields are refused, and ``api.errors.validate`` checks it in strict mode."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra=_declared)

    @classmethod
    def declare(cls, schema: dict[str, Any]) -> None:
        """Add to the model's JSON Schema the rules its validators enforce beyond the field types."""


class Patch(Strict):
    """A partial update: a field may be left out, but only ``NULLABLE`` fields may be set to null."""

    NULLABLE: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def declare(cls, schema: dict[str, Any]) -> None:
        """The document allows null only where ``_no_nulls`` does (pydantic writes ``X | None`` as
        nullable, though the model's optional fields are optional in presence, not in value)."""
        for name, prop in schema.get("properties", {}).items():
            if name in cls.NULLABLE or "anyOf" not in prop:
                continue
            kept = [p for p in prop["anyOf"] if p != {"type": "null"}]
            prop.pop("anyOf")
            prop.pop("default", None)
            prop.update(kept[0] if len(kept) == 1 else {"anyOf": kept})

    @model_validator(mode="after")
    def _no_nulls(self) -> Patch:
        nulls = [f for f in self.model_fields_set if getattr(self, f) is None and f not in self.NULLABLE]
        if nulls:
            raise FieldValueError(sorted(nulls)[0], f"{', '.join(sorted(nulls))} cannot be null")
        return self


class BusinessCreate(Strict):
    name: str = Field(min_length=1, max_length=200)
    time_zone: TimeZone
    admin_email: Email | None = None
    locale: CatalogLocaleName = Field(
        default="en", description="the language messages fall back to; one with a catalog (en, de, es, de_AT)"
    )
    automation: AutomationSettings = Field(default_factory=AutomationSettings)


class CustomerFields(Strict):
    email: Email | None = None
    phone: Phone | None = None
    push_token: str | None = Field(default=None, max_length=512)
    time_zone: TimeZone | None = None
    locale: LocaleName | None = Field(
        default=None,
        description="a CLDR locale Babel knows (en, de, pt_BR); messages are in its language when it has a "
        "catalog (en, de, es), else in the business's locale",
    )
    channel_order: list[Literal["email", "sms", "push"]] | None = Field(
        default=None,
        min_length=1,
        max_length=3,
        json_schema_extra={"uniqueItems": True},
        description="the channels to try, in order: distinct, from email, sms and push",
    )
    email_opted_in: bool | None = None
    sms_opted_in: bool | None = None
    push_opted_in: bool | None = None
    preferences: Preferences | None = Field(
        default=None,
        description="categories of message the customer receives (transactional ones always go out); "
        "PATCH merges: categories left out keep their value",
    )
    metadata: Metadata | None = None

    @field_validator("channel_order")
    @classmethod
    def _known_channels(cls, order: list[str] | None) -> list[str] | None:  # defence beside the types
        if order is None:
            return None
        unknown = [c for c in order if c not in ("email", "sms", "push")]
        if unknown or len(set(order)) != len(order) or not order:
            raise ValueError("a non-empty list of distinct channels from email, sms, push")
        return order


class CustomerCreate(CustomerFields):
    name: str = Field(min_length=1, max_length=200)
    external_id: ExternalId | None = Field(default=None, description="your own id (409 if another has it)")


class CustomerUpsert(CustomerFields, Patch):
    """``PUT /v1/customers/by-external-id/{external_id}``: the fields sent are set, the others kept, so
    null is a value only where the column may be empty (a null opt-in would be stored as nothing)."""

    NULLABLE = frozenset({"email", "phone", "push_token", "time_zone", "metadata"})

    name: str = Field(min_length=1, max_length=200)


class CustomerUpdate(CustomerFields, Patch):
    NULLABLE = frozenset({"email", "phone", "push_token", "time_zone", "metadata", "external_id"})

    name: str | None = Field(default=None, min_length=1, max_length=200)
    external_id: ExternalId | None = Field(default=None, description="your own id (409 if another has it)")


class SingleNotification(Strict):
    customer_id: DbId
    subject: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=1600)
    planned_for: Instant | None = Field(default=None, description="deliver at (quiet hours do not apply)")


class BroadcastCreate(Strict):
    subject: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=1600)
    customer_ids: list[DbId] | None = Field(default=None, min_length=1, max_length=100_000)
    all_customers: bool = False
    rate_per_s: float | None = Field(default=None, gt=0, le=10_000)

    @classmethod
    def declare(cls, schema: dict[str, Any]) -> None:
        schema["anyOf"] = [  # the audience: a list of customers, or all of them (_one_audience)
            {
                "required": ["customer_ids"],
                "properties": {"customer_ids": {"type": "array"}, "all_customers": {"const": False}},
            },
            {
                "required": ["all_customers"],
                "properties": {"all_customers": {"const": True}, "customer_ids": {"type": "null"}},
            },
        ]

    @model_validator(mode="after")
    def _one_audience(self) -> BroadcastCreate:
        if (self.customer_ids is None) == (not self.all_customers):
            raise FieldValueError("customer_ids", "give either customer_ids or all_customers: true")
        return self


class TemplateOverrideBody(Strict):
    body: str = Field(min_length=1, max_length=10_000)


class TwilioForm(BaseModel):
    """A Twilio webhook's form (application/x-www-form-urlencoded). Twilio's documentation warns that it
    "will occasionally add new parameters without advance notice"
    (https://www.twilio.com/docs/messaging/guides/webhook-request), so unknown ones are accepted (they are
    part of the signed payload); the ones we read are declared and bounded."""

    model_config = ConfigDict(extra="allow")


class SmsStatusForm(TwilioForm):
    """Twilio's status callback: https://www.twilio.com/docs/messaging/guides/track-outbound-message-status"""

    MessageSid: str = Field(min_length=1, max_length=64)
    MessageStatus: str = Field(min_length=1, max_length=32)
    ErrorCode: str | None = Field(default=None, max_length=16)


class SmsInboundForm(TwilioForm):
    """An incoming message: https://www.twilio.com/docs/messaging/guides/webhook-request"""

    From: str = Field(min_length=1, max_length=32)
    Body: str = Field(default="", max_length=1600)


class PushReceipt(Strict):
    message_id: str = Field(min_length=1, max_length=255)
    status: str = Field(pattern="^(delivered|failed)$")
    error: str | None = Field(default=None, max_length=500)


class TimeRange(Strict):
    starts_at: Instant = Field(description="in the future (else 422 inconsistent)")
    ends_at: Instant = Field(description="after starts_at (else 422 inconsistent)")

    @model_validator(mode="after")
    def _ordered(self) -> TimeRange:
        if self.ends_at <= self.starts_at:
            raise Inconsistent("ends_at", "ends_at must be after starts_at")
        return self


class AppointmentCreate(TimeRange):
    customer_id: DbId
    service: str | None = Field(default=None, max_length=200)
    resource: str | None = Field(default=None, max_length=120)
    external_id: ExternalId | None = Field(default=None, description="your own id (409 if another has it)")
    metadata: Metadata | None = None


class AppointmentUpsert(TimeRange):
    """``PUT /v1/appointments/by-external-id/{external_id}``: the appointment as your system has it."""

    customer_id: DbId
    service: str | None = Field(default=None, max_length=200)
    resource: str | None = Field(default=None, max_length=120)
    metadata: Metadata | None = None


class Reschedule(TimeRange):
    pass


class CancelBody(Strict):
    reason: str = Field(default="cancelled", min_length=1, max_length=500)
    by: str = Field(default="business", min_length=1, max_length=64)


class ReviewBody(Strict):
    rating: int = Field(ge=1, le=5)
    text: str | None = Field(default=None, max_length=5000)


class PetCreate(Strict):
    owner_id: DbId = Field(description="the customer who owns the pet")
    name: str = Field(min_length=1, max_length=120)
    species: str | None = Field(default=None, max_length=60)


class VaccinationCreate(Strict):
    pet_id: DbId
    vaccine: str = Field(min_length=1, max_length=120)
    administered_at: Instant | None = None
    expires_at: Instant = Field(description="after administered_at (else 422 inconsistent)")

    @model_validator(mode="after")
    def _after_administered(self) -> VaccinationCreate:
        if self.administered_at is not None and self.expires_at <= self.administered_at:
            raise Inconsistent("expires_at", "expires_at must be after administered_at")
        return self


class PolicyCreate(Strict):
    customer_id: DbId
    policy_number: str = Field(min_length=1, max_length=64)
    product: str | None = Field(default=None, max_length=120)
    duration_months: int = Field(ge=1, le=120, description="a renewal extends the end date by this much")
    end_date: Day = Field(description="last day of cover; the policy expires at the next local midnight")
    external_id: ExternalId | None = Field(default=None, description="your own id (409 if another has it)")
    metadata: Metadata | None = None


class PolicyUpdate(Patch):
    """Changing ``end_date`` moves the policy's call timeline and expiry (its workflow re-plans)."""

    NULLABLE: ClassVar[frozenset[str]] = frozenset({"product", "external_id", "metadata"})

    product: str | None = Field(default=None, max_length=120)
    external_id: ExternalId | None = Field(default=None, description="your own id (409 if another has it)")
    metadata: Metadata | None = None
    duration_months: int | None = Field(default=None, ge=1, le=120)
    end_date: Day | None = None


class ManualCallCreate(Strict):
    policy_id: DbId
    scheduled_for: Instant = Field(
        description="when to call, in the future (else 422 inconsistent); the daily and concurrency caps "
        "apply"
    )


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


class StaffUserCreate(Strict):
    """A company's user; ``roles`` say who is told what (admins and accounting: overdue invoices)."""

    name: str = Field(min_length=1, max_length=200)
    email: Email
    phone: Phone | None = Field(default=None, description="for staff notifications by SMS")
    roles: list[StaffRole] = Field(min_length=1, max_length=3, json_schema_extra={"uniqueItems": True})

    @field_validator("roles")
    @classmethod
    def _distinct(cls, roles: list[StaffRole]) -> list[StaffRole]:
        if len(set(roles)) != len(roles):
            raise ValueError("roles must be distinct")
        return sorted(roles)


class InvoiceCreate(Strict):
    """An invoice; a repeat of the same body under the same ``number`` returns the first (200)."""

    number: str = Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f]+$")
    client_name: str | None = Field(default=None, max_length=200)
    amount_cents: int = Field(ge=1, le=MAX_INVOICE_CENTS, description=f"1 to {MAX_INVOICE_CENTS}")
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217, e.g. EUR")
    due_on: Day = Field(description="last day to pay (company-local); overdue from the next local midnight")
    status: Literal["draft", "sent"] = Field(
        default="sent", description="a draft sleeps on nothing until sent"
    )
    external_id: ExternalId | None = Field(default=None, description="your own id (409 if another has it)")
    metadata: Metadata | None = None


class InvoiceDueDate(Strict):
    due_on: Day


class InvoiceWriteOff(Strict):
    reason: str = Field(min_length=1, max_length=500)


class MarkRead(Strict):
    ids: list[DbId] | None = Field(
        default=None, max_length=500, description="null or absent: every unread one"
    )


class ProjectCreate(Strict):
    """A project; send ``Idempotency-Key`` to make retries safe. With a location, the weather job fetches
    its site's forecast every morning into its daily plans."""

    name: str = Field(min_length=1, max_length=200)
    ends_on: Day | None = Field(default=None, description="planned end (company-local); null: open-ended")
    latitude: float | None = Field(default=None, ge=-90, le=90, allow_inf_nan=False, description="WGS84")
    longitude: float | None = Field(default=None, ge=-180, le=180, allow_inf_nan=False, description="WGS84")
    external_id: ExternalId | None = Field(default=None, description="your own id (409 if another has it)")
    metadata: Metadata | None = None

    @classmethod
    def declare(cls, schema: dict[str, Any]) -> None:
        schema["anyOf"] = [  # a whole location, or none (_whole_location)
            {
                "required": ["latitude", "longitude"],
                "properties": {"latitude": {"type": "number"}, "longitude": {"type": "number"}},
            },
            {"properties": {"latitude": {"type": "null"}, "longitude": {"type": "null"}}},
        ]

    @model_validator(mode="after")
    def _whole_location(self) -> ProjectCreate:
        if (self.latitude is None) != (self.longitude is None):
            missing = "longitude" if self.longitude is None else "latitude"
            raise FieldValueError(missing, "give latitude and longitude together, or neither")
        return self


class DailyPlanCreate(Strict):
    """A project's plan for one company-local day; a repeat for the same day answers 200 with the first."""

    project_id: DbId
    plan_date: Day


class InventoryItemCreate(Strict):
    name: str = Field(min_length=1, max_length=200)
    unit: str = Field(min_length=1, max_length=32, description="e.g. bags, m, pcs")
    quantity: int = Field(ge=0, le=MAX_STOCK)
    threshold: int = Field(
        ge=0, le=MAX_STOCK, description="below this the item is short (told once per crossing)"
    )


class InventoryMovementCreate(Strict):
    reference: str = Field(
        min_length=1, max_length=64, description="yours, e.g. a delivery note: a repeat moves the stock once"
    )
    delta: int = Field(
        ge=-MAX_STOCK,
        le=MAX_STOCK,
        json_schema_extra={"not": {"const": 0}},
        description="received (+) or used (-); not 0",
    )

    @field_validator("delta")
    @classmethod
    def _not_zero(cls, delta: int) -> int:
        if delta == 0:
            raise ValueError("delta must not be 0")
        return delta


class TouchUpCreate(Strict):
    reference: str = Field(
        min_length=1, max_length=64, description="yours: a repeated request creates it once"
    )
    title: str = Field(min_length=1, max_length=300)
    priority: TouchUpPriority


class TouchUpUpdate(Patch):
    priority: TouchUpPriority | None = None
    status: TouchUpStatus | None = None


class EmployeeCreate(Strict):
    name: str = Field(min_length=1, max_length=200)
    hourly_rate_cents: int = Field(ge=0, le=MAX_FEE_CENTS, description=f"0 to {MAX_FEE_CENTS}")


class EmployeeRate(Strict):
    hourly_rate_cents: int = Field(ge=0, le=MAX_FEE_CENTS, description="periods already computed keep theirs")


class TimeEntryCreate(Strict):
    reference: str = Field(min_length=1, max_length=64, description="yours: a repeated request logs once")
    work_date: Day = Field(description="company-local day")
    minutes: int = Field(ge=1, le=1440)


class Approval(Strict):
    approved_by: DbId = Field(description="the staff user approving: an admin or accounting of the company")


class Recalculation(Strict):
    reason: str = Field(min_length=1, max_length=500, description="kept in the period's audit")


class StaffPreferencesPut(Strict):
    """How the user hears of their notifications beyond the app (``domain.staff_notify``); the whole set,
    so a repeat changes nothing. ``sms`` among ``channels`` needs ``phone``."""

    delivery: StaffDelivery = Field(
        description="immediate: e-mail or SMS at once; digest: one e-mail a day; in_app: only in the app"
    )
    channels: list[StaffChannel] = Field(
        default_factory=email_only,
        min_length=1,
        max_length=2,
        description="tried in this order for immediate ones (the next when one fails)",
        json_schema_extra={"uniqueItems": True},
    )
    digest_time: LocalTime = Field(default=DEFAULT_DIGEST_TIME, description="company-local, e.g. 08:00")
    muted: list[StaffFamily] = Field(
        default_factory=list,
        max_length=len(FAMILIES),
        description="families that stay in the app whatever the delivery",
        json_schema_extra={"uniqueItems": True},
    )
    phone: Phone | None = Field(
        default=None,
        description="E.164; null removes it; needed when channels has sms (else 422 inconsistent)",
    )

    @field_validator("channels", "muted")
    @classmethod
    def _distinct(cls, values: list[str]) -> list[str]:
        if len(set(values)) != len(values):
            raise ValueError("items must be distinct")
        return values

    @model_validator(mode="after")
    def _sms_has_a_phone(self) -> StaffPreferencesPut:
        if "sms" in self.channels and self.phone is None:
            raise Inconsistent("phone", "sms among channels needs a phone")
        return self
