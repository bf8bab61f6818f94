"""The admin's daily digest: when it goes out and what it covers, in the business's zone, DST-correct.

A digest covers the bookings made, and the cancellations and no-shows that happened, since the last digest
reported (``businesses.digest_since``) up to its own instant, so every moment is in exactly one digest: a
change of the time or the zone, a missed day, or the switch back to per-booking alerts (a final digest) never
lists an hour twice or drops one. On an ordinary day the window is 18:00 the local day before up to 18:00 (23
or 25 hours on a DST change day; the wall time is what the owner set).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from domain.timekeeping import local_wall_time

AdminAlerts = Literal["each", "daily_digest"]
FINAL_DIGEST = "final"  # the variant of the digest sent when the business leaves digest mode


def digest_instant(local_date: date, at: time, zone: ZoneInfo) -> datetime:
    """``at`` on ``local_date`` in ``zone`` (a time in the spring-forward gap lands just after it)."""
    return local_wall_time(datetime.combine(local_date, time(12), tzinfo=zone), at, zone)


def next_digest_at(now: datetime, at: time, zone: ZoneInfo) -> datetime:
    """The first digest instant after ``now``."""
    today = now.astimezone(zone).date()
    for days in range(3):
        candidate = digest_instant(today + timedelta(days=days), at, zone)
        if candidate > now:
            return candidate
    raise AssertionError("a wall time recurs within three local days")  # pragma: no cover


def due_digest(since: datetime, now: datetime, at: time, zone: ZoneInfo) -> datetime:
    """The instant of the next digest for a window open since ``since``: the first digest instant after it;
    if that has passed (the workers were down for days), the latest one due, so one catch-up digest covers
    every missed day instead of one e-mail per day or none."""
    first = next_digest_at(since, at, zone)
    if first > now:
        return first
    latest = first
    while (following := next_digest_at(latest, at, zone)) <= now:
        latest = following
    return latest


def window_start(since: datetime | None, instant: datetime, at: time, zone: ZoneInfo) -> datetime:
    """Where the digest at ``instant`` starts: the end of the last one reported (before ``digest_since`` was
    kept: the previous local day's instant)."""
    return since.astimezone(UTC) if since is not None else digest_window(instant, at, zone)[0]


def digest_window(instant: datetime, at: time, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """[the previous local day's digest instant, ``instant``): what the digest at ``instant`` covers."""
    local_date = instant.astimezone(zone).date()
    return digest_instant(local_date - timedelta(days=1), at, zone), instant.astimezone(UTC)


class AdminDigestInput(BaseModel):
    business_id: int
    continue_as_new_after_events: int = Field(default=1_000, description="history length that triggers it")


class PlanDigestInput(BaseModel):
    business_id: int
    now: datetime = Field(description="the workflow's clock")


class DigestPlan(BaseModel):
    """The business's digest settings as read now: the mode, and the next digest instant if it has one."""

    mode: AdminAlerts
    next_at: datetime | None = None
    settings_revision: int = 0
    final_at: datetime | None = Field(
        default=None, description="out of digest mode with alerts still unreported: the final digest's end"
    )


class DigestReportedInput(BaseModel):
    """A digest (or its empty day) is recorded: the next window starts at ``until``."""

    business_id: int
    until: datetime
    final: bool = Field(default=False, description="the final digest: the window closes")


class AdminDigestView(BaseModel):
    """Query ``state`` of ``admin-digest-<business>``."""

    business_id: int
    mode: AdminAlerts
    next_at: datetime | None
    sent: list[str] = Field(description="the latest digests: '<instant>: <status or reason>'")
