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
