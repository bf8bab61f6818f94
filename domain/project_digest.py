"""The weekly project digest (pure): its instant in a company's zone, and what one project's line says.

A staff user gets one e-mail a week, Monday 08:00 company-local (DST-correct through
``domain.timekeeping.local_wall_time``), about their projects: admins about every active project of the
company, others about the active projects they are members of. The ``project-digest`` job looks every 15
minutes, so a company's digests go out within 15 minutes of its Monday 08:00 and, after an outage, by the
next run that week; past the next Monday a week's digest is useless and is not sent (its deadline).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from domain.timekeeping import local_wall_time

DIGEST_AT = time(8, 0)


class DigestWeek(BaseModel):
    at: datetime  # this week's digest instant (Monday 08:00 local)
    until: datetime  # the next one: past it, this week's digest is not worth sending
    monday: date  # the local Monday of ``at``

    @property
    def last_week(self) -> tuple[date, date]:
        """The Monday-Sunday the digest reports on: [start, end)."""
        return self.monday - timedelta(days=7), self.monday


def digest_week(now: datetime, zone: ZoneInfo) -> DigestWeek:
    """The latest digest instant at or before ``now`` in ``zone``, with the next one."""
    local_day = now.astimezone(zone).date()
    monday = local_day - timedelta(days=local_day.weekday())
    at = _monday_at(monday, zone)
    if now < at:
        monday -= timedelta(days=7)
        at = _monday_at(monday, zone)
    return DigestWeek(at=at, until=_monday_at(monday + timedelta(days=7), zone), monday=monday)


def _monday_at(monday: date, zone: ZoneInfo) -> datetime:
    return local_wall_time(datetime.combine(monday, DIGEST_AT, tzinfo=zone), DIGEST_AT, zone)


class ProjectLine(BaseModel):
    """One project in a digest: what a stakeholder wants to know on a Monday morning."""

    project_id: int
    name: str
    ends_on: date | None
    open_touch_ups: int
    serious_touch_ups: int  # open, high or urgent
    plans_last_week: int
    plans_submitted: int
    weather_today: str | None  # e.g. "slight rain, 3-12 °C"


class ProjectDigestRunInput(BaseModel):
    """Input of ProjectDigestWorkflow; ``at`` is fixed by the workflow, so a retried activity sees one
    instant. Up to ``batch_size`` digests a run: the next run (15 minutes later) sends the rest."""

    at: datetime | None = None
    batch_size: int = Field(default=200, ge=1, le=1_000)
