"""SQLAlchemy 2 models: the schema every workflow's activities read and write."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from domain.statuses import (
    AppointmentStatus,
    CallStatus,
    Channel,
    DailyPlanStatus,
    InvoiceStatus,
    NotificationStatus,
    PayrollStatus,
    PolicyStatus,
    ProjectStatus,
    TouchUpPriority,
    TouchUpStatus,
    VaccinationStatus,
)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _str_enum(enum_cls: type[enum.Enum], name: str) -> Enum:
    # VARCHAR + CHECK instead of a native PG enum: adding a value later is a plain migration.
    return Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda members: [m.value for m in members],
    )


class Business(Base):
    """A tenant. ``automation`` holds its validated automation settings (see domain.automation)."""

    __tablename__ = "businesses"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    time_zone: Mapped[str] = mapped_column(String(64))
    admin_email: Mapped[str | None] = mapped_column(String(320))
    locale: Mapped[str] = mapped_column(
        String(16),
        default="en",
        server_default="en",
        comment="messages fall back to it (a locale with a catalog: en, de, es, de_AT ...)",
    )
    automation: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    settings_revision: Mapped[int] = mapped_column(
        BigInteger,
        default=1,
        server_default="1",
        comment="bumped by every change of automation, time zone or call config",
    )
    rolled_out_revision: Mapped[int] = mapped_column(
        BigInteger,
        default=1,
        server_default="1",
        comment="the last revision whose rollout reached every running workflow",
    )
    rating_average: Mapped[float | None] = mapped_column(Float)
    rating_count: Mapped[int] = mapped_column(Integer, server_default="0")
    rating_distribution: Mapped[dict[str, int]] = mapped_column(JSONB, server_default="{}")
    digest_since: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True),
        comment="where the next admin digest's window starts: the end of the last one reported, or when "
        "digest mode began (null: the day before the digest, as before this column)",
    )
    digest_left_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True),
        comment="when the business last left digest mode: the end of the final digest's window",
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class ExternalRef:
    """The business's own id of the row (``external_id``, unique per business and table) and its bounded
    ``metadata`` (domain.limits.Metadata), both kept as given and returned, never interpreted."""

    external_id: Mapped[str | None] = mapped_column(String(255), comment="the business's own id")
    meta: Mapped[dict[str, str] | None] = mapped_column("metadata", JSONB)


def _external_id_unique(table: str) -> Index:
    return Index(
        f"uq_{table}_business_external_id",
        "business_id",
        "external_id",
        unique=True,
        postgresql_where=text("external_id IS NOT NULL"),
    )


class Customer(ExternalRef, Base):
    __tablename__ = "customers"
    __table_args__ = (
        _external_id_unique("customers"),
        Index("ix_customers_business_created", "business_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(32), index=True)
    push_token: Mapped[str | None] = mapped_column(String(512))
    time_zone: Mapped[str | None] = mapped_column(String(64))
    locale: Mapped[str] = mapped_column(String(16), server_default="en")
    channel_order: Mapped[list[str]] = mapped_column(ARRAY(String(16)), server_default="{push,sms,email}")
    email_opted_in: Mapped[bool] = mapped_column(Boolean, server_default="true")
    sms_opted_in: Mapped[bool] = mapped_column(Boolean, server_default="false")
    push_opted_in: Mapped[bool] = mapped_column(Boolean, server_default="true")
    preferences: Mapped[dict[str, Any]] = mapped_column(
        JSONB,
        server_default="{}",
        comment="categories turned off, e.g. {reminders: false}",
    )
    reputation_score: Mapped[int] = mapped_column(Integer, server_default="100")
    reputation_recovered_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), comment="last reputation recovery (the weekly job's idempotency marker)"
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Appointment(ExternalRef, Base):
    __tablename__ = "appointments"
    __table_args__ = (
        _external_id_unique("appointments"),
        CheckConstraint("ends_at > starts_at", name="ends_after_starts"),
        CheckConstraint("version >= 1", name="version_positive"),
        Index("ix_appointments_business_starts", "business_id", "starts_at"),
        Index("ix_appointments_customer_starts", "customer_id", "starts_at"),
        Index("ix_appointments_status_updated", "status", "updated_at"),
        Index("ix_appointments_resource_starts", "business_id", "resource", "starts_at"),
        Index("ix_appointments_business_status_changed", "business_id", "status_changed_at"),
        Index("ix_appointments_business_created", "business_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="RESTRICT"))
    resource: Mapped[str | None] = mapped_column(String(120))
    service: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[AppointmentStatus] = mapped_column(
        _str_enum(AppointmentStatus, "appointment_status"), default=AppointmentStatus.PENDING
    )
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    cancelled_by: Mapped[str | None] = mapped_column(String(64))
    checked_in_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status_changed_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), comment="when the status last changed (written with the change)"
    )
    archived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class NotificationLog(Base):
    """One row per message and channel. The UNIQUE idempotency key is claimed before any provider is called.

    ``message_key`` names the message (entity, event, recipient, instant or version); ``idempotency_key`` is
    ``message_key:channel``. A message skipped before any channel was tried has ``channel`` NULL.
    """

    __tablename__ = "notification_log"
    __table_args__ = (
        CheckConstraint("attempts >= 0", name="attempts_non_negative"),
        Index("ix_notification_log_message_key", "message_key"),
        Index("ix_notification_log_entity", "entity_type", "entity_id", "created_at"),
        Index("ix_notification_log_business_created", "business_id", "created_at"),
        Index("ix_notification_log_status_updated", "status", "updated_at"),
        Index("ix_notification_log_provider_message", "provider_message_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    message_key: Mapped[str] = mapped_column(String(240))
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    entity_type: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[int] = mapped_column(BigInteger)
    event: Mapped[str] = mapped_column(String(64))
    channel: Mapped[Channel | None] = mapped_column(_str_enum(Channel, "notification_channel"))
    provider: Mapped[str | None] = mapped_column(String(32))
    recipient: Mapped[str] = mapped_column(String(32))
    scheduled_for: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[NotificationStatus] = mapped_column(
        _str_enum(NotificationStatus, "notification_status"), default=NotificationStatus.QUEUED
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    error: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(String(64))
    provider_message_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    request: Mapped[dict[str, Any] | None] = mapped_column(
        JSONB, comment="the NotificationRequest (ids only), so the retry sweep can deliver it again"
    )
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    in_flight_since: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True),
        comment="set before the provider is called, cleared when its answer is known: set on a retry "
        "means the last attempt is ambiguous (it may have reached the provider)",
    )
    resolution: Mapped[str | None] = mapped_column(
        String(160),
        comment='how an ambiguous attempt was resolved, e.g. "ambiguous -> confirmed sent by receipt"',
    )
    receipt_status: Mapped[str | None] = mapped_column(
        String(32),
        comment="the provider's latest status callback for this message (queued, sent, delivered, "
        "undelivered, failed): only sent or delivered confirms an attempt whose answer was lost",
    )
    rendered: Mapped[dict[str, Any] | None] = mapped_column(
        JSONB,
        comment="the message as rendered before its first send: every resend of this row sends exactly "
        "these bytes (a provider that compares bodies under one idempotency key sees the same one)",
    )


class HealthCheckRun(Base):
    """Result of one database health check, readable by operators (GET /v1/health-checks/latest)."""

    __tablename__ = "health_check_runs"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    workflow_id: Mapped[str] = mapped_column(String(255), unique=True)
    ok: Mapped[bool] = mapped_column(Boolean)
    report: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )


class ApiKey(Base):
    """A business's API key; only its SHA-256 is stored. ``prefix`` lets operators tell keys apart."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class TemplateOverride(Base):
    """A business's own text for one part of one (event, channel) template, validated when saved."""

    __tablename__ = "template_overrides"
    __table_args__ = (UniqueConstraint("business_id", "event", "channel", "part"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    part: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class RateBucket(Base):
    """A token bucket per provider, shared by every worker: ``tokens`` refill at ``rate`` per second."""

    __tablename__ = "rate_buckets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    rate: Mapped[float] = mapped_column(Float)
    capacity: Mapped[float] = mapped_column(Float)
    tokens: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Broadcast(Base):
    """A message a business sends to one or many customers (single and bulk notifications)."""

    __tablename__ = "broadcasts"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"), index=True)
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    recipient_count: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), server_default="running")
    report: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class BroadcastRecipient(Base):
    __tablename__ = "broadcast_recipients"

    broadcast_id: Mapped[int] = mapped_column(
        ForeignKey("broadcasts.id", ondelete="CASCADE"), primary_key=True
    )
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True)


class AppointmentFee(Base):
    """A no-show fee for the payment system to collect (``status`` starts as ``pending``)."""

    __tablename__ = "appointment_fees"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    appointment_id: Mapped[int] = mapped_column(
        ForeignKey("appointments.id", ondelete="CASCADE"), unique=True
    )
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32), server_default="no_show")
    amount_cents: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), server_default="pending")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    payment_reference: Mapped[str | None] = mapped_column(
        String(200), comment="the payment system's id of the charge"
    )
    waived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    waive_reason: Mapped[str | None] = mapped_column(String(500))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class Review(Base):
    __tablename__ = "reviews"
    __table_args__ = (
        CheckConstraint("rating BETWEEN 1 AND 5", name="rating_range"),
        Index("ix_reviews_business_customer", "business_id", "customer_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    appointment_id: Mapped[int] = mapped_column(
        ForeignKey("appointments.id", ondelete="CASCADE"), unique=True
    )
    rating: Mapped[int] = mapped_column(Integer)
    text: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class IdempotentRequest(Base):
    """An ``Idempotency-Key`` a business used, the hash of its body, and the resource it created."""

    __tablename__ = "idempotent_requests"

    business_id: Mapped[int] = mapped_column(
        ForeignKey("businesses.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    resource_id: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )


class Pet(Base):
    __tablename__ = "pets"
    __table_args__ = (Index("ix_pets_business_owner", "business_id", "owner_id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    owner_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(120))
    species: Mapped[str | None] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Vaccination(Base):
    """A vaccination record; ``expires_at`` drives its workflow (``vaccination-<id>``)."""

    __tablename__ = "vaccinations"
    __table_args__ = (
        Index("ix_vaccinations_business_expires", "business_id", "expires_at"),
        Index("ix_vaccinations_pet_vaccine_status", "pet_id", "vaccine", "status"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    pet_id: Mapped[int] = mapped_column(ForeignKey("pets.id", ondelete="CASCADE"))
    vaccine: Mapped[str] = mapped_column(String(120))
    administered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[VaccinationStatus] = mapped_column(
        _str_enum(VaccinationStatus, "vaccination_status"), default=VaccinationStatus.VALID
    )
    superseded_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class Policy(ExternalRef, Base):
    """An insurance policy; ``end_date`` drives its workflow (``policy-<id>``) and its renewal calls.

    ``term`` counts renewals; ``call_attempts`` and ``declined_at`` belong to the current term.
    ``next_call_at`` is the workflow's plan (NULL: none planned); the call caps rank due ones by end date.
    """

    __tablename__ = "policies"
    __table_args__ = (
        _external_id_unique("policies"),
        UniqueConstraint("business_id", "policy_number", name="uq_policies_business_number"),
        CheckConstraint("duration_months BETWEEN 1 AND 120", name="duration_months_range"),
        Index("ix_policies_business_next_call", "business_id", "next_call_at"),
        Index("ix_policies_business_end", "business_id", "end_date"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="RESTRICT"))
    policy_number: Mapped[str] = mapped_column(String(64))
    product: Mapped[str | None] = mapped_column(String(120))
    duration_months: Mapped[int] = mapped_column(Integer)
    end_date: Mapped[date] = mapped_column(Date)
    status: Mapped[PolicyStatus] = mapped_column(
        _str_enum(PolicyStatus, "policy_status"), default=PolicyStatus.ACTIVE
    )
    term: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    call_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    declined_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    calls_stopped: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    call_not_before: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    call_now_requested: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    next_call_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class Call(Base):
    """One renewal call (automatic or manual). ``call_key`` makes claiming a call idempotent;
    ``local_day`` is the business-local day the call counts against for ``max_calls_per_day``."""

    __tablename__ = "calls"
    __table_args__ = (
        Index("ix_calls_business_day", "business_id", "local_day"),
        Index("ix_calls_business_status", "business_id", "status"),
        Index("ix_calls_policy_created", "policy_id", "created_at"),
        Index("ix_calls_created", "created_at"),
        Index(
            "uq_calls_one_in_flight_per_policy",
            "policy_id",
            unique=True,
            postgresql_where=text("status IN ('dialing', 'answered')"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    policy_id: Mapped[int] = mapped_column(ForeignKey("policies.id", ondelete="CASCADE"))
    call_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # automatic | manual
    status: Mapped[CallStatus] = mapped_column(_str_enum(CallStatus, "call_status"))
    reason: Mapped[str | None] = mapped_column(String(200))
    scheduled_for: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    local_day: Mapped[date | None] = mapped_column(Date)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    renewal_agreed: Mapped[bool | None] = mapped_column(Boolean)
    summary: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class CallSchedulerConfigRow(Base):
    """A business's call scheduler settings (validated by domain.call_config); no row means defaults."""

    __tablename__ = "call_scheduler_configs"

    business_id: Mapped[int] = mapped_column(
        ForeignKey("businesses.id", ondelete="CASCADE"), primary_key=True
    )
    config: Mapped[dict[str, Any]] = mapped_column(JSONB)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class ChatRoom(Base):
    """A customer's conversation with a business; archived (never deleted) after months without activity."""

    __tablename__ = "chat_rooms"
    __table_args__ = (Index("ix_chat_rooms_activity", "last_activity_at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    subject: Mapped[str | None] = mapped_column(String(200))
    last_activity_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    archived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class PlatformDailyStats(Base):
    """Platform-wide figures of one UTC day (``platform-daily-stats`` job; recomputing overwrites the day)."""

    __tablename__ = "platform_daily_stats"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    appointments_by_status: Mapped[dict[str, int]] = mapped_column(JSONB)
    new_customers: Mapped[int] = mapped_column(Integer)
    active_businesses: Mapped[int] = mapped_column(Integer)
    reviews: Mapped[int] = mapped_column(Integer)
    average_rating: Mapped[float | None] = mapped_column(Float)
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class BusinessStats(Base):
    """A business's running figures (``business-stats`` job daily, or on demand through the API)."""

    __tablename__ = "business_stats"

    business_id: Mapped[int] = mapped_column(
        ForeignKey("businesses.id", ondelete="CASCADE"), primary_key=True
    )
    total_appointments: Mapped[int] = mapped_column(Integer)
    completed: Mapped[int] = mapped_column(Integer)
    no_shows: Mapped[int] = mapped_column(Integer)
    cancelled: Mapped[int] = mapped_column(Integer)
    completion_rate: Mapped[float | None] = mapped_column(Float)
    average_rating: Mapped[float | None] = mapped_column(Float)
    review_count: Mapped[int] = mapped_column(Integer)
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class StaffUser(Base):
    """A company's user (construction): roles say who hears of what, e.g. admins and accounting of overdue
    invoices. Their in-app notifications are ``in_app_notifications``."""

    __tablename__ = "staff_users"
    __table_args__ = (
        UniqueConstraint("business_id", "email", name="uq_staff_users_business_email"),
        CheckConstraint(
            "roles <@ ARRAY['admin', 'accounting', 'pm']::varchar[] AND cardinality(roles) >= 1",
            name="known_roles",
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    roles: Mapped[list[str]] = mapped_column(ARRAY(String(16)))
    phone: Mapped[str | None] = mapped_column(String(20), comment="E.164: staff notifications by SMS")
    notify: Mapped[dict[str, Any]] = mapped_column(
        JSONB, server_default="{}", comment="delivery preferences (domain.staff_notify.StaffNotifyPrefs)"
    )
    created_from: Mapped[str | None] = mapped_column(
        String(64), comment="SHA-256 of the create body (db.repeats): a repeat of it answers with this row"
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Invoice(ExternalRef, Base):
    """An invoice; ``due_on`` (a company-local date) drives its workflow (``invoice-<id>``).

    ``version`` grows with every change the API makes (payment, write-off, new due date): the workflow is
    signalled with it and re-reads the row. ``overdue_since`` is the instant it became overdue."""

    __tablename__ = "invoices"
    __table_args__ = (
        _external_id_unique("invoices"),
        UniqueConstraint("business_id", "number", name="uq_invoices_business_number"),
        CheckConstraint("amount_cents > 0", name="amount_positive"),
        CheckConstraint("version >= 1", name="version_positive"),
        Index("ix_invoices_business_status_due", "business_id", "status", "due_on"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    number: Mapped[str] = mapped_column(String(64))
    client_name: Mapped[str | None] = mapped_column(String(200))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    due_on: Mapped[date] = mapped_column(Date)
    status: Mapped[InvoiceStatus] = mapped_column(
        _str_enum(InvoiceStatus, "invoice_status"), default=InvoiceStatus.SENT
    )
    overdue_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    written_off_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    write_off_reason: Mapped[str | None] = mapped_column(String(500))
    created_from: Mapped[str | None] = mapped_column(
        String(64), comment="SHA-256 of the create body (db.repeats): a repeat of it answers with this row"
    )
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class InAppNotification(Base):
    """One in-app notification for one company user, created the moment it arises.

    ``message_key`` (entity, event, instant, user) is UNIQUE: a repeated activity creates nothing twice.
    The weekly cleanup archives read ones older than 30 days (``archived_at``)."""

    __tablename__ = "in_app_notifications"
    __table_args__ = (
        UniqueConstraint("message_key", name="uq_in_app_notifications_message_key"),
        Index("ix_in_app_notifications_user_created", "user_id", "created_at"),
        # what the staff-notices job reads: rows not decided yet, and decided ones still to be delivered
        Index("ix_in_app_notifications_undecided", "id", postgresql_where=text("delivery IS NULL")),
        Index(
            "ix_in_app_notifications_unrelayed",
            "delivery",
            "id",
            postgresql_where=text("relayed_at IS NULL AND delivery IN ('immediate', 'digest')"),
        ),
        Index("ix_in_app_notifications_user_digest", "user_id", "digest_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"))
    message_key: Mapped[str] = mapped_column(String(255))
    event: Mapped[str] = mapped_column(String(64))
    entity_type: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[int] = mapped_column(BigInteger)
    title: Mapped[str] = mapped_column(String(300))
    link: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    archived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    delivery: Mapped[str | None] = mapped_column(
        String(16), comment="decided by the staff-notices job: immediate, digest, in_app or muted"
    )
    digest_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), comment="delivery digest: the digest instant it goes into"
    )
    relayed_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), comment="when nothing was left to do (its message or digest is logged)"
    )


class Project(ExternalRef, Base):
    """A construction project of a company (its daily plans, and later its weather and digests)."""

    __tablename__ = "projects"
    __table_args__ = (
        _external_id_unique("projects"),
        Index("ix_projects_business_status", "business_id", "status"),
        CheckConstraint("latitude BETWEEN -90 AND 90", name="latitude_range"),
        CheckConstraint("longitude BETWEEN -180 AND 180", name="longitude_range"),
        CheckConstraint("(latitude IS NULL) = (longitude IS NULL)", name="location_whole"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    latitude: Mapped[float | None] = mapped_column(Float, comment="WGS84; with longitude, the site's weather")
    longitude: Mapped[float | None] = mapped_column(Float)
    status: Mapped[ProjectStatus] = mapped_column(
        _str_enum(ProjectStatus, "project_status"), default=ProjectStatus.ACTIVE
    )
    ends_on: Mapped[date | None] = mapped_column(Date)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    touch_ups_alerted_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True),
        comment="when 3+ open high/urgent touch-ups were told (once per crossing); NULL once below again",
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class DailyPlan(Base):
    """A project's plan for one company-local day; its workflow (``daily-plan-<id>``) sleeps until the
    deadline (``daily_plan_deadline``, default 17:00 local) and alerts if it is still a draft."""

    __tablename__ = "daily_plans"
    __table_args__ = (UniqueConstraint("project_id", "plan_date", name="uq_daily_plans_project_date"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    plan_date: Mapped[date] = mapped_column(Date)
    status: Mapped[DailyPlanStatus] = mapped_column(
        _str_enum(DailyPlanStatus, "daily_plan_status"), default=DailyPlanStatus.DRAFT
    )
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    missed_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), comment="the deadline passed with the plan a draft (daily_plan.missed)"
    )
    weather: Mapped[dict[str, Any] | None] = mapped_column(
        JSONB, comment="the day's forecast, copied from weather_snapshots by the weather job"
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ProjectMember(Base):
    """A staff user's access to a project: PMs hear of its touch-ups, members get its weekly digest.
    Admins see every project of their company without rows here."""

    __tablename__ = "project_members"

    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    staff_user_id: Mapped[int] = mapped_column(
        ForeignKey("staff_users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class WeatherSnapshot(Base):
    """A project's weather for one company-local day (UNIQUE per project and day): created by the first
    run that fetches the day (two days ahead), updated by the later ones; ``refreshed_on`` is the local
    day of the run that wrote it last, so a second run the same day fetches nothing."""

    __tablename__ = "weather_snapshots"
    __table_args__ = (UniqueConstraint("project_id", "day", name="uq_weather_snapshots_project_day"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    temperature_max_c: Mapped[float | None] = mapped_column(Float)
    temperature_min_c: Mapped[float | None] = mapped_column(Float)
    conditions: Mapped[str | None] = mapped_column(String(64))
    weather_code: Mapped[int | None] = mapped_column(Integer)
    precipitation_mm: Mapped[float | None] = mapped_column(Float)
    wind_max_kmh: Mapped[float | None] = mapped_column(Float)
    humidity_pct: Mapped[float | None] = mapped_column(Float)
    refreshed_on: Mapped[date] = mapped_column(Date)
    fetched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class WeatherRun(Base):
    """One zone's weather run for one local day: its figures, and whether it is finished (no failure) or
    how many attempts it has had (the job tries a zone-day with failures again, a bounded number of times).
    """

    __tablename__ = "weather_runs"

    time_zone: Mapped[str] = mapped_column(String(64), primary_key=True)
    run_date: Mapped[date] = mapped_column(Date, primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class InventoryItem(Base):
    """A company's stock item; below ``threshold`` it is short. ``shortage_alerted_at`` is set when the
    shortage was told (once per crossing) and cleared when the stock is back at or above the threshold."""

    __tablename__ = "inventory_items"
    __table_args__ = (
        CheckConstraint("quantity >= 0", name="quantity_not_negative"),
        CheckConstraint("threshold >= 0", name="threshold_not_negative"),
        UniqueConstraint("business_id", "name", name="uq_inventory_items_business_name"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str] = mapped_column(String(32))
    quantity: Mapped[int] = mapped_column(BigInteger)
    threshold: Mapped[int] = mapped_column(BigInteger)
    shortage_alerted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_from: Mapped[str | None] = mapped_column(
        String(64), comment="SHA-256 of the create body (db.repeats): a repeat of it answers with this row"
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class InventoryMovement(Base):
    """One change of an item's stock; ``reference`` (the caller's, e.g. a delivery note) is UNIQUE per item,
    so a repeated request moves the stock once."""

    __tablename__ = "inventory_movements"
    __table_args__ = (UniqueConstraint("item_id", "reference", name="uq_inventory_movements_item_reference"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("inventory_items.id", ondelete="CASCADE"))
    reference: Mapped[str] = mapped_column(String(64))
    delta: Mapped[int] = mapped_column(BigInteger)
    quantity_after: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class TouchUp(Base):
    """A defect to fix on a project; ``reference`` (the caller's) is UNIQUE per project, so a repeated
    request creates it once."""

    __tablename__ = "touch_ups"
    __table_args__ = (
        UniqueConstraint("project_id", "reference", name="uq_touch_ups_project_reference"),
        Index("ix_touch_ups_project_status", "project_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    reference: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(300))
    priority: Mapped[TouchUpPriority] = mapped_column(_str_enum(TouchUpPriority, "touch_up_priority"))
    status: Mapped[TouchUpStatus] = mapped_column(
        _str_enum(TouchUpStatus, "touch_up_status"), default=TouchUpStatus.OPEN
    )
    created_from: Mapped[str | None] = mapped_column(
        String(64), comment="SHA-256 of the create body (db.repeats): a repeat of it answers with this row"
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class Employee(Base):
    """A company's employee who logs time; ``hourly_rate_cents`` is the current rate (snapshotted into each
    payroll line when the period is computed)."""

    __tablename__ = "employees"
    __table_args__ = (CheckConstraint("hourly_rate_cents >= 0", name="rate_not_negative"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    hourly_rate_cents: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class TimeEntry(Base):
    """Minutes an employee worked on a company-local day; ``reference`` UNIQUE per employee (logs once)."""

    __tablename__ = "time_entries"
    __table_args__ = (
        UniqueConstraint("employee_id", "reference", name="uq_time_entries_employee_reference"),
        CheckConstraint("minutes > 0 AND minutes <= 1440", name="minutes_in_a_day"),
        Index("ix_time_entries_business_day", "business_id", "work_date"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    employee_id: Mapped[int] = mapped_column(ForeignKey("employees.id", ondelete="CASCADE"))
    reference: Mapped[str] = mapped_column(String(64))
    work_date: Mapped[date] = mapped_column(Date)
    minutes: Mapped[int] = mapped_column(Integer)
    created_from: Mapped[str | None] = mapped_column(
        String(64), comment="SHA-256 of the create body (db.repeats): a repeat of it answers with this row"
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class PayrollPeriod(Base):
    """One company's payroll of one Monday-Sunday week: UNIQUE (business, week_start), so a second trigger
    or a caught-up run never makes another. ``revision`` counts audited recalculations."""

    __tablename__ = "payroll_periods"
    __table_args__ = (UniqueConstraint("business_id", "week_start", name="uq_payroll_periods_business_week"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    week_start: Mapped[date] = mapped_column(Date)
    status: Mapped[PayrollStatus] = mapped_column(
        _str_enum(PayrollStatus, "payroll_status"), default=PayrollStatus.PENDING
    )
    total_cents: Mapped[int] = mapped_column(BigInteger)
    lines: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, comment="per employee: id, name, minutes, hourly_rate_cents (snapshot), pay_cents"
    )
    revision: Mapped[int] = mapped_column(Integer, server_default="1")
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    approved_by: Mapped[int | None] = mapped_column(
        BigInteger,
        ForeignKey("staff_users.id", ondelete="SET NULL"),
        comment="the staff user (an admin or accounting) who approved it",
    )


class PayrollRecalculation(Base):
    """The audit of an explicit recalculation: who asked, why, and the totals before and after."""

    __tablename__ = "payroll_recalculations"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("payroll_periods.id", ondelete="CASCADE"))
    revision: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(500))
    total_before_cents: Mapped[int] = mapped_column(BigInteger)
    total_after_cents: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class EventRecord(Base):
    """One event of the catalogue (``domain.events``), written in the transaction of the change it reports.

    ``txid`` is that transaction's id (``pg_current_xact_id()``): the feed reads only events whose
    transaction is older than every one still running (``pg_snapshot_xmin``), in ``(txid, id)`` order, so
    an event that commits late can never fall behind a cursor that has passed it (db.events)."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_business_position", "business_id", "txid", "id"),
        Index("ix_events_created", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(64))
    entity_type: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[int] = mapped_column(BigInteger)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    txid: Mapped[int] = mapped_column(
        BigInteger,
        server_default=text("(pg_current_xact_id()::text)::bigint"),
        comment="the writing transaction's id: the feed's commit-safe order",
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class WebhookEndpoint(Base):
    """A URL of the business's that receives its events, signed (domain.webhooks, db.webhooks).

    ``cursor_txid``/``cursor_id`` is how far the relay has read the business's events for it (the feed's
    position, db.events); it starts at the creating transaction, so an endpoint receives what happens from
    its creation on (older events: replay). ``previous_secret`` signs beside ``secret`` until
    ``previous_secret_expires_at`` (a rotation's 24 h)."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (
        UniqueConstraint("business_id", "url", name="uq_webhook_endpoints_business_url"),
        Index("ix_webhook_endpoints_enabled", "id", postgresql_where=text("enabled")),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(2048))
    description: Mapped[str | None] = mapped_column(String(500))
    event_types: Mapped[list[str] | None] = mapped_column(
        ARRAY(String(64)), comment="only these types (NULL: every type)"
    )
    enabled: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    secret: Mapped[str] = mapped_column(String(100))
    previous_secret: Mapped[str | None] = mapped_column(String(100))
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    rotation_key: Mapped[str | None] = mapped_column(
        String(255), comment="the Idempotency-Key of the last rotation: its repeat rotates nothing"
    )
    cursor_txid: Mapped[int] = mapped_column(
        BigInteger, server_default=text("(pg_current_xact_id()::text)::bigint")
    )
    cursor_id: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    failing_since: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), comment="the first failed attempt since the last success"
    )
    disabled_reason: Mapped[str | None] = mapped_column(String(500))
    created_from: Mapped[str | None] = mapped_column(String(64), comment="db.repeats: the creating body")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class WebhookDelivery(Base):
    """One event for one endpoint: pending until a 2xx answer (delivered) or 3 days of failures (failed).

    Per entity, an endpoint gets its events in order: a delivery waits while an earlier pending delivery of
    the same entity to the same endpoint is not done (db.webhooks.due)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_id", name="uq_webhook_deliveries_endpoint_event"),
        Index(
            "ix_webhook_deliveries_pending",
            "endpoint_id",
            "txid",
            "event_id",
            postgresql_where=text("state = 'pending'"),
        ),
        Index(
            "ix_webhook_deliveries_pending_entity",
            "endpoint_id",
            "entity_type",
            "entity_id",
            postgresql_where=text("state = 'pending'"),
        ),
        CheckConstraint("state IN ('pending', 'delivered', 'failed')", name="known_state"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    entity_type: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[int] = mapped_column(BigInteger)
    txid: Mapped[int] = mapped_column(BigInteger, comment="the event's: the order per entity")
    state: Mapped[str] = mapped_column(String(16), server_default=text("'pending'"))
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    first_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class WebhookAttempt(Base):
    """One HTTP attempt of a delivery, for the endpoint's delivery log."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_endpoint", "endpoint_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    delivery_id: Mapped[int] = mapped_column(ForeignKey("webhook_deliveries.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(BigInteger)
    attempt: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status_code: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(500))
    ok: Mapped[bool] = mapped_column(Boolean)
