"""Response bodies: one model per resource. ``api/serializers.py`` builds every response through these, and
``api/routes.py`` names them as each operation's result, so the OpenAPI document describes exactly what the
handlers send (the fuzz test checks each response against it)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.automation import AutomationSettings
from domain.call_config import CallSchedulerConfig
from domain.preferences import Preferences
from domain.rollout_types import RolloutStarted

Instant = Annotated[
    str, Field(description="ISO 8601 date-time with offset", json_schema_extra={"format": "date-time"})
]
Day = Annotated[str, Field(description="ISO 8601 date", json_schema_extra={"format": "date"})]


class Resource(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Rating(Resource):
    average: float | None
    count: int
    distribution: dict[str, int]


class BusinessOut(Resource):
    id: int
    name: str
    time_zone: str
    admin_email: str | None
    locale: str = Field(description="the language messages fall back to")
    automation: AutomationSettings = Field(description="the settings in force, defaults filled in")
    rating: Rating
    created_at: Instant | None
    settings_revision: int = Field(description="bumped by every change of automation, time zone, call config")
    rolled_out_revision: int = Field(
        description="the latest revision that has reached every sleeping workflow (behind while rolling out)"
    )


class BusinessUpdated(BusinessOut):
    settings_rollout: RolloutStarted | None = Field(
        description="the rollout that brings the change to sleeping workflows (null: nothing they plan with "
        "changed); GET /v1/businesses/me/settings-rollouts/{revision} shows its progress"
    )


class BusinessCreated(Resource):
    business: BusinessOut
    api_key: str = Field(description="shown once; store it")


class CustomerOut(Resource):
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
    preferences: Preferences
    reputation_score: int
    external_id: str | None = Field(description="your own id of the customer")
    metadata: dict[str, str] | None = Field(description="your key-value pairs, as given")


class NotificationOut(Resource):
    id: int
    entity: str = Field(description="e.g. appointment:123")
    event: str
    recipient: str
    channel: str | None
    provider: str | None
    status: str
    reason: str | None
    attempts: int
    error: str | None
    scheduled_for: Instant | None
    created_at: Instant | None
    sent_at: Instant | None
    delivered_at: Instant | None
    provider_message_id: str | None
    idempotency_key: str
    in_flight: bool = Field(description="an attempt went out and its answer is not known yet")
    resolution: str | None = Field(
        description="how an ambiguous attempt was resolved, e.g. 'ambiguous -> confirmed sent by receipt'"
    )


class NotificationPage(Resource):
    items: list[NotificationOut]
    next_before_id: int | None = Field(description="pass as before_id for the next (older) page")


class BroadcastOut(Resource):
    id: int
    subject: str
    recipient_count: int
    status: str
    report: dict[str, Any] | None
    created_at: Instant | None
    finished_at: Instant | None
    workflow_id: str
    progress: dict[str, Any] | None = Field(default=None, description="live counts while running")


class FeeOut(Resource):
    id: int
    appointment_id: int
    customer_id: int
    kind: str = Field(description="no_show")
    amount_cents: int
    status: str = Field(description="pending, paid or waived")
    payment_reference: str | None
    created_at: str
    paid_at: str | None
    waived_at: str | None


class AppointmentOut(Resource):
    id: int
    customer_id: int
    service: str | None
    resource: str | None
    status: str
    starts_at: Instant
    ends_at: Instant
    version: int
    cancel_reason: str | None
    checked_in_at: Instant | None
    completed_at: Instant | None
    workflow_id: str
    external_id: str | None = Field(description="your own id of it")
    metadata: dict[str, str] | None = Field(description="your key-value pairs, as given")


NEXT_CURSOR = "pass it as after for the next page; null: this is the last page"


class AppointmentList(Resource):
    items: list[AppointmentOut]
    next_cursor: str | None = Field(description=NEXT_CURSOR)


class AppointmentDetail(AppointmentOut):
    workflow: dict[str, Any] | None = Field(description="the workflow's state query: next action and when")
    notifications: list[NotificationOut]
    fees: list[FeeOut] = Field(description="its no-show fee, if one was applied (as GET /v1/fees lists it)")


class ReviewOut(Resource):
    appointment_id: int
    rating: Rating


class PolicyOut(Resource):
    id: int
    customer_id: int
    policy_number: str
    product: str | None
    duration_months: int
    end_date: Day
    status: str
    term: int
    call_attempts: int
    declined: bool
    calls_stopped: bool
    next_call_at: Instant | None
    external_id: str | None = Field(description="your own id of it")
    metadata: dict[str, str] | None = Field(description="your key-value pairs, as given")
    workflow_id: str


class PolicyList(Resource):
    items: list[PolicyOut]
    next_cursor: str | None = Field(description=NEXT_CURSOR)


class CallOut(Resource):
    id: int
    policy_id: int
    kind: str
    status: str
    reason: str | None
    scheduled_for: Instant | None
    local_day: Day | None
    started_at: Instant | None
    ended_at: Instant | None
    renewal_agreed: bool | None
    summary: str | None
    error: str | None


class CallList(Resource):
    items: list[CallOut]
    next_cursor: str | None = Field(description=NEXT_CURSOR)


class PolicyDetail(PolicyOut):
    workflow: dict[str, Any] | None
    calls: list[CallOut]


class PetOut(Resource):
    id: int
    owner_id: int
    name: str
    species: str | None


class VaccinationOut(Resource):
    id: int
    pet_id: int
    vaccine: str
    status: str
    administered_at: Instant | None
    expires_at: Instant
    superseded_by: int | None
    workflow_id: str


class SchedulerConfigSaved(CallSchedulerConfig):
    settings_rollout: RolloutStarted = Field(
        description="the rollout that wakes the sleeping policy workflows to re-plan: "
        "GET /v1/businesses/me/settings-rollouts/{revision} shows its progress"
    )


class StaffPreferencesOut(Resource):
    delivery: str = Field(description="immediate, digest or in_app")
    channels: list[str]
    digest_time: str = Field(description="company-local, e.g. 08:00")
    muted: list[str]
    phone: str | None


class StaffUserOut(Resource):
    id: int
    name: str
    email: str
    roles: list[str]
    phone: str | None
    notifications: StaffPreferencesOut


class InvoiceOut(Resource):
    id: int
    number: str
    client_name: str | None
    amount_cents: int
    currency: str
    due_on: Day
    status: str
    days_overdue: int = Field(description="whole company-local days past the due date (0 unless overdue)")
    overdue_since: Instant | None
    paid_at: Instant | None
    written_off_at: Instant | None
    write_off_reason: str | None
    version: int
    workflow_id: str
    external_id: str | None = Field(description="your own id of it")
    metadata: dict[str, str] | None = Field(description="your key-value pairs, as given")


class InAppNotificationOut(Resource):
    id: int
    event: str
    entity: str = Field(description="e.g. invoice:12")
    title: str
    link: str | None
    created_at: Instant | None
    read_at: Instant | None


class ProjectOut(Resource):
    id: int
    name: str
    status: str
    ends_on: Day | None
    latitude: float | None
    longitude: float | None
    external_id: str | None = Field(description="your own id of it")
    metadata: dict[str, str] | None = Field(description="your key-value pairs, as given")


class WeatherOut(Resource):
    """A site's weather of one company-local day (Open-Meteo's daily figures)."""

    day: Day | None = None
    temperature_max_c: float | None
    temperature_min_c: float | None
    conditions: str | None
    weather_code: int | None
    precipitation_mm: float | None
    wind_max_kmh: float | None
    humidity_pct: float | None
    refreshed_on: Day | None = None


class DailyPlanOut(Resource):
    id: int
    project_id: int
    plan_date: Day
    status: str
    submitted_at: Instant | None
    workflow_id: str
    weather: WeatherOut | None = None


class InventoryItemOut(Resource):
    id: int
    name: str
    unit: str
    quantity: int
    threshold: int
    short: bool
    shortage_alerted_at: Instant | None


class TouchUpOut(Resource):
    id: int
    project_id: int
    reference: str
    title: str
    priority: str
    status: str


class EmployeeOut(Resource):
    id: int
    name: str
    hourly_rate_cents: int


class TimeEntryOut(Resource):
    id: int
    employee_id: int
    reference: str
    work_date: Day
    minutes: int


class PayrollLineOut(Resource):
    employee_id: int
    name: str
    minutes: int
    hourly_rate_cents: int
    pay_cents: int


class PayrollPeriodOut(Resource):
    id: int
    week_start: Day
    status: str
    total_cents: int
    lines: list[PayrollLineOut]
    revision: int
    computed_at: Instant
    approved_at: Instant | None
    approved_by: int | None = None


class EventOut(Resource):
    id: str = Field(description="evt_<number>: deduplicate by it")
    type: str
    occurred_at: str
    entity: str = Field(description="e.g. appointment:42")
    data: dict[str, Any]
    catalogue_version: str


class EventPage(Resource):
    items: list[EventOut]
    next_cursor: str | None = Field(description="pass it as after= for the next page; null: none yet")
    has_more: bool = Field(description="another page is there now")


class WebhookEndpointOut(Resource):
    id: int
    url: str
    description: str | None
    event_types: list[str] | None = Field(description="only these types; null: every type")
    enabled: bool
    disabled_reason: str | None = Field(description="why Keeptime disabled it (enable it again after a fix)")
    failing_since: str | None = Field(description="the first failed attempt since the last success")
    secret: str | None = Field(
        description="whsec_...: only in the answers of create and rotate-secret (verify signatures with it)"
    )
    previous_secret_expires_at: str | None = Field(description="until then the old secret signs too")
    created_at: str
    updated_at: str


class WebhookAttemptOut(Resource):
    id: int
    event_id: str
    attempt: int
    at: str
    status_code: int | None
    latency_ms: int
    ok: bool
    error: str | None


class WebhookDeliveryOut(Resource):
    id: int
    event_id: str
    entity: str
    state: str = Field(description="pending, delivered or failed (given up after 3 days)")
    attempts: int
    next_attempt_at: str | None
    delivered_at: str | None
    last_status: int | None
    last_error: str | None


class AppointmentUpserted(AppointmentOut):
    outcome: Literal["created", "unchanged", "rescheduled", "updated"]


class CustomerUpserted(CustomerOut):
    outcome: Literal["created", "unchanged", "updated"]
