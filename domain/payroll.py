"""Weekly payroll arithmetic (pure): which Monday-Sunday week is due in a company's zone, and its lines.

A week's period is due from the next Monday 07:00 company-local (DST-correct through
``domain.timekeeping.local_wall_time``); before that instant the latest due week is the one before."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from domain.timekeeping import local_wall_time

RUN_AT = time(7, 0)


def due_week(now: datetime, zone: ZoneInfo) -> date:
    """The Monday of the latest week whose payroll is due at ``now``."""
    local_day = now.astimezone(zone).date()
    this_monday = local_day - timedelta(days=local_day.weekday())
    run_at = local_wall_time(datetime.combine(this_monday, RUN_AT, tzinfo=zone), RUN_AT, zone)
    return this_monday - timedelta(days=7 if now >= run_at else 14)


CATCH_UP_WEEKS = 12  # how far back a run creates weeks missed during an outage (a quarter)


def weeks_due(last_created: date | None, due: date) -> list[date]:
    """The Mondays a run creates: the due week and every week after the company's latest period up to it (at
    most ``CATCH_UP_WEEKS``), so a week missed while the workers were down is created too. A company
    without any period starts with the due week."""
    if last_created is None or last_created >= due:
        return [due]
    first = max(last_created + timedelta(days=7), due - timedelta(days=7 * (CATCH_UP_WEEKS - 1)))
    return [first + timedelta(days=7 * n) for n in range((due - first).days // 7 + 1)]


def pay_cents(minutes: int, hourly_rate_cents: int) -> int:
    """Pay for ``minutes`` at the hourly rate, rounded half up to the cent (integers only)."""
    return (minutes * hourly_rate_cents * 2 + 60) // 120
