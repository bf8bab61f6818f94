"""Statuses and their names, defined once: the database columns, the workflows' types and the API's filters
all use these (StrEnums, so each compares and serialises as its plain string)."""

from __future__ import annotations

import enum


class AppointmentStatus(enum.StrEnum):
    """An appointment's status; ``domain.appointment_types.TRANSITIONS`` says which steps lead where."""

    PENDING = "pending"
    CONFIRMED = "confirmed"
    CHECKED_IN = "checked_in"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"


class NotificationStatus(enum.StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    SKIPPED = "skipped"


# Why a message's row failed, where the message may still have reached the recipient. Neither falls back to
# another channel (one reminder must not arrive twice, on SMS and on e-mail); both stay visible.
NOT_RESENT = "ambiguous_not_resent"  # the outcome was unknown and the category's policy chose not to resend
OUTCOME_UNKNOWN = "outcome_unknown"  # the last attempt ended without an answer; the retry sweep resolves it
NO_FALLBACK = frozenset({NOT_RESENT, OUTCOME_UNKNOWN})

# A provider's status for a message (Twilio's MessageStatus in status callbacks and on the Message resource,
# https://www.twilio.com/docs/messaging/api/message-resource#message-status-values): these say the provider
# took it (what a 201 "queued" answer to the send says; the rest follows by receipt) ...
ACCEPTED_RECEIPTS = frozenset(
    {"accepted", "scheduled", "queued", "sending", "sent", "delivered", "read", "partially_delivered"}
)
# ... these say it never arrived (a failure, not a confirmation: the next channel carries it) ...
FAILED_RECEIPTS = frozenset({"failed", "undelivered", "canceled"})
# ... and none of these is replaced by a later intermediate one (callbacks can arrive out of order).
FINAL_RECEIPTS = frozenset({"delivered", "read", *FAILED_RECEIPTS})


class Channel(enum.StrEnum):
    EMAIL = "email"
    SMS = "sms"
    PUSH = "push"
    CONSOLE = "console"


class VaccinationStatus(enum.StrEnum):
    VALID = "valid"
    EXPIRING_SOON = "expiring_soon"
    EXPIRED = "expired"
    SUPERSEDED = "superseded"


class PolicyStatus(enum.StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class CallStatus(enum.StrEnum):
    SCHEDULED = "scheduled"  # a manual call waiting for its time
    DIALING = "dialing"  # claimed, the voice agent is being asked to call
    ANSWERED = "answered"  # the customer picked up; waiting for the agent's summary
    COMPLETED = "completed"  # summary received (renewal agreed or not)
    NO_ANSWER = "no_answer"
    DECLINED = "declined"
    FAILED = "failed"  # the voice agent could not be reached after every attempt
    CANCELLED = "cancelled"
    SKIPPED = "skipped"  # a manual call that would break the skip window, or whose policy ended

    @classmethod
    def in_flight(cls) -> tuple[CallStatus, ...]:
        return (cls.DIALING, cls.ANSWERED)

    @classmethod
    def placed(cls) -> tuple[CallStatus, ...]:
        """Calls that happened: they count for the skip window and the daily cap."""
        return (cls.DIALING, cls.ANSWERED, cls.COMPLETED, cls.NO_ANSWER, cls.DECLINED, cls.FAILED)

    @classmethod
    def finished(cls) -> tuple[CallStatus, ...]:
        """Calls whose records the cleanups may delete."""
        return (cls.COMPLETED, cls.NO_ANSWER, cls.DECLINED, cls.FAILED, cls.CANCELLED, cls.SKIPPED)


class InvoiceStatus(enum.StrEnum):
    """A construction company's invoice: ``sent`` sleeps until its due date passes, then ``overdue``."""

    DRAFT = "draft"
    SENT = "sent"
    OVERDUE = "overdue"
    PAID = "paid"
    WRITTEN_OFF = "written_off"


class StaffRole(enum.StrEnum):
    """What a company's user does; who is told what (admins and accounting hear of overdue invoices)."""

    ADMIN = "admin"
    ACCOUNTING = "accounting"
    PM = "pm"


class DailyPlanStatus(enum.StrEnum):
    """A project's plan for one day: ``draft`` until submitted; still a draft at its deadline -> alert."""

    DRAFT = "draft"
    SUBMITTED = "submitted"


class ProjectStatus(enum.StrEnum):
    ACTIVE = "active"
    COMPLETED = "completed"
    ARCHIVED = "archived"


class TouchUpPriority(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    URGENT = "urgent"


class TouchUpStatus(enum.StrEnum):
    OPEN = "open"
    DONE = "done"


class PayrollStatus(enum.StrEnum):
    """A week's payroll period: ``pending`` review until approved (then it no longer changes)."""

    PENDING = "pending"
    APPROVED = "approved"
