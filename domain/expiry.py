"""The shared "expiring record" timeline: days-before-expiry moments at a business-local time of day.

Vaccination alerts (and policy call days) are "N days before the end, at 10:00 where the business is".
Pure and deterministic, so the activity that plans a timeline and the tests compute the same instants.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from domain.timekeeping import local_wall_time


@dataclass(frozen=True)
class ExpiryMoment:
    days_before: int
    at: datetime


def expiry_moments(
    expires_at: datetime, days_before: list[int], at: time, zone: ZoneInfo
) -> list[ExpiryMoment]:
    """For each N in ``days_before``: ``at`` local time on the date N days before expiry, earliest first."""
    moments = [
        ExpiryMoment(days, local_wall_time(expires_at.astimezone(zone) - timedelta(days=days), at, zone))
        for days in days_before
    ]
    return sorted((m for m in moments if m.at < expires_at), key=lambda m: m.at)
