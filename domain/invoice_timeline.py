"""An invoice's timeline in its company's time zone: overdue from the first instant after the due date,
then escalations N days overdue (the business's ``invoice_escalation_days``, default 7, 14 and 30).

Pure and deterministic: the workflow plans with it, the API derives ``days_overdue`` with it, the tests
compute the same instants. A local midnight that a DST change skips resolves to the first instant after the
gap (as ``domain.timekeeping.local_wall_time`` does).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from domain.invoice_types import InvoiceMoment


def day_start(day: date, zone: ZoneInfo) -> datetime:
    """00:00 of ``day`` in ``zone`` as a UTC instant (a skipped midnight lands after the gap)."""
    return datetime.combine(day, time(0)).replace(tzinfo=zone).astimezone(UTC)


def overdue_at(due_on: date, zone: ZoneInfo) -> datetime:
    """The first instant after the due date: local midnight at the start of the next day."""
    return day_start(due_on + timedelta(days=1), zone)


def days_overdue(due_on: date, at: datetime, zone: ZoneInfo) -> int:
    """Whole local days past the due date at ``at`` (0 on or before the due date)."""
    return max(0, (at.astimezone(zone).date() - due_on).days)


def invoice_moments(due_on: date, escalation_days: list[int], zone: ZoneInfo) -> list[InvoiceMoment]:
    """The overdue moment, then one escalation per N in ``escalation_days`` (local midnight N days after
    the due date, when it is N days overdue), earliest first."""
    moments = [InvoiceMoment(kind="overdue", days_overdue=1, at=overdue_at(due_on, zone))]
    moments += [
        InvoiceMoment(kind="escalation", days_overdue=days, at=day_start(due_on + timedelta(days=days), zone))
        for days in sorted(set(escalation_days))
        if days > 1
    ]
    return moments
