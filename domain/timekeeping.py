"""Pure time arithmetic shared by activities and the API: quiet hours in a recipient's zone, across DST."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

QUIET_EXIT_MARGIN = timedelta(minutes=1)


def zone_or_none(name: str) -> ZoneInfo | None:
    """The zone, or None when this machine does not know it (a row edited by hand, a zone tzdata dropped):
    a batch job then reports that one company and goes on with the others."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def local_wall_time(day: datetime, at: time, zone: ZoneInfo) -> datetime:
    """``at`` on the local date of ``day`` in ``zone``, as an aware UTC instant (gaps resolve forwards)."""
    local_date = day.astimezone(zone).date()
    naive = datetime.combine(local_date, at)
    # fold=0: a repeated (autumn) time is its first occurrence; a spring-forward gap time uses the offset
    # before the gap, so it lands after the gap (02:30 on a Berlin spring day becomes 03:30 local).
    return naive.replace(tzinfo=zone).astimezone(UTC)


def in_quiet_hours(instant: datetime, zone: ZoneInfo, start: time, end: time) -> bool:
    if start == end:
        return False
    local = instant.astimezone(zone).time()
    return (start <= local or local < end) if start > end else (start <= local < end)


def quiet_period_around(
    instant: datetime, zone: ZoneInfo, start: time, end: time
) -> tuple[datetime, datetime]:
    """The [begin, finish) of the quiet period that contains ``instant`` (which must be inside one)."""
    local_time = instant.astimezone(zone).time()
    if start > end and local_time < end:  # after midnight: the period began the evening before
        begin = local_wall_time(instant - timedelta(days=1), start, zone)
        finish = local_wall_time(instant, end, zone)
    elif start > end:  # before midnight: it ends the next morning
        begin = local_wall_time(instant, start, zone)
        finish = local_wall_time(instant + timedelta(days=1), end, zone)
    else:
        begin = local_wall_time(instant, start, zone)
        finish = local_wall_time(instant, end, zone)
    return begin, finish


def adjust_for_quiet_hours(
    planned: datetime, *, now: datetime, deadline: datetime | None, zone: ZoneInfo, start: time, end: time
) -> datetime | None:
    """When to deliver a message planned for ``planned``, or None when no useful time is left.

    Outside quiet hours: ``planned`` (or ``now`` if that has passed). Inside: the nearer of the quiet period's
    end and a minute before its beginning, keeping only candidates after ``now`` and before ``deadline``.
    """
    target = max(planned, now)
    if deadline is not None and target >= deadline:
        return None
    if not in_quiet_hours(target, zone, start, end):
        return target
    begin, finish = quiet_period_around(target, zone, start, end)
    candidates = [
        c for c in (finish, begin - QUIET_EXIT_MARGIN) if c > now and (deadline is None or c < deadline)
    ]
    return min(candidates, key=lambda c: abs(c - target)) if candidates else None
