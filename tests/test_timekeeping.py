"""Quiet hours in the recipient's zone, including the days clocks change (Berlin and New York)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from domain.timekeeping import adjust_for_quiet_hours, in_quiet_hours

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
QUIET = {"start": time(21, 0), "end": time(8, 0)}


def local(zone: ZoneInfo, year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=zone).astimezone(UTC)


def test_outside_quiet_hours_nothing_moves() -> None:
    planned = local(BERLIN, 2026, 6, 10, 14, 0)
    assert (
        adjust_for_quiet_hours(planned, now=planned - timedelta(days=1), deadline=None, zone=BERLIN, **QUIET)
        == planned
    )


def test_early_morning_reminder_moves_to_eight_when_the_event_is_later() -> None:
    planned = local(BERLIN, 2026, 6, 10, 6, 30)  # 2h before an 08:30 appointment
    deadline = local(BERLIN, 2026, 6, 10, 8, 30)
    moved = adjust_for_quiet_hours(
        planned, now=planned - timedelta(days=1), deadline=deadline, zone=BERLIN, **QUIET
    )
    assert moved == local(BERLIN, 2026, 6, 10, 8, 0)


def test_moves_to_the_evening_before_when_the_morning_is_too_late() -> None:
    planned = local(BERLIN, 2026, 6, 10, 5, 30)  # 2h before a 07:30 appointment: 08:00 is after it
    deadline = local(BERLIN, 2026, 6, 10, 7, 30)
    moved = adjust_for_quiet_hours(
        planned, now=planned - timedelta(days=1), deadline=deadline, zone=BERLIN, **QUIET
    )
    assert moved == local(BERLIN, 2026, 6, 9, 20, 59)


def test_no_useful_time_left_means_skip() -> None:
    now = local(BERLIN, 2026, 6, 9, 22, 0)  # booked late in the evening for 07:30 next morning
    planned = local(BERLIN, 2026, 6, 10, 5, 30)
    deadline = local(BERLIN, 2026, 6, 10, 7, 30)
    assert adjust_for_quiet_hours(planned, now=now, deadline=deadline, zone=BERLIN, **QUIET) is None


def test_late_evening_reminder_moves_to_just_before_quiet_hours_when_nearer() -> None:
    planned = local(BERLIN, 2026, 6, 9, 21, 30)
    moved = adjust_for_quiet_hours(
        planned, now=planned - timedelta(days=1), deadline=None, zone=BERLIN, **QUIET
    )
    assert moved == local(BERLIN, 2026, 6, 9, 20, 59)


def test_berlin_spring_forward_night() -> None:
    # 2026-03-29: 02:00 CET -> 03:00 CEST. 08:00 that morning is 06:00 UTC, not 07:00 as the day before.
    planned = local(BERLIN, 2026, 3, 29, 2, 30)  # does not exist; resolves to 03:30 CEST
    moved = adjust_for_quiet_hours(
        planned, now=planned - timedelta(days=2), deadline=None, zone=BERLIN, **QUIET
    )
    assert moved == datetime(2026, 3, 29, 6, 0, tzinfo=UTC)
    assert moved.astimezone(BERLIN).hour == 8


def test_berlin_fall_back_night() -> None:
    # 2026-10-25: 03:00 CEST -> 02:00 CET, so that night is 12 real hours long; 08:00 is 07:00 UTC.
    early = datetime(2026, 10, 25, 2, 30, tzinfo=UTC)  # 03:30 CET: 4.5 h to 08:00, 7.5 h since 21:00
    moved = adjust_for_quiet_hours(early, now=early - timedelta(days=2), deadline=None, zone=BERLIN, **QUIET)
    assert moved == datetime(2026, 10, 25, 7, 0, tzinfo=UTC)
    # 02:30 CEST (the first of two 02:30s) is 5.5 real hours after 21:00 but 6.5 before 08:00
    repeated = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    moved = adjust_for_quiet_hours(
        repeated, now=repeated - timedelta(days=2), deadline=None, zone=BERLIN, **QUIET
    )
    assert moved == datetime(2026, 10, 24, 18, 59, tzinfo=UTC)  # 20:59 CEST the evening before


def test_new_york_spring_forward_and_fall_back() -> None:
    spring = local(NEW_YORK, 2026, 3, 8, 4, 30)  # after the 02:00 -> 03:00 jump: 04:30 EDT
    assert adjust_for_quiet_hours(
        spring, now=spring - timedelta(days=1), deadline=None, zone=NEW_YORK, **QUIET
    ) == (
        datetime(2026, 3, 8, 12, 0, tzinfo=UTC)  # 08:00 EDT
    )
    fall = local(NEW_YORK, 2026, 11, 1, 5, 0)  # 05:00 EST, after the clocks went back
    assert adjust_for_quiet_hours(
        fall, now=fall - timedelta(days=1), deadline=None, zone=NEW_YORK, **QUIET
    ) == (
        datetime(2026, 11, 1, 13, 0, tzinfo=UTC)  # 08:00 EST
    )


def test_quiet_hours_within_one_day_and_disabled() -> None:
    lunch = {"start": time(12, 0), "end": time(13, 0)}
    planned = local(BERLIN, 2026, 6, 10, 12, 40)
    assert adjust_for_quiet_hours(
        planned, now=planned - timedelta(days=1), deadline=None, zone=BERLIN, **lunch
    ) == (local(BERLIN, 2026, 6, 10, 13, 0))
    off = {"start": time(0, 0), "end": time(0, 0)}
    assert not in_quiet_hours(planned, BERLIN, **off)


@given(
    planned=st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
    ),
    lead=st.integers(min_value=0, max_value=72 * 3600),
    zone=st.sampled_from([BERLIN, NEW_YORK, ZoneInfo("Asia/Kolkata"), ZoneInfo("Australia/Sydney")]),
)
def test_a_moved_time_is_never_quiet_never_past_and_never_after_the_deadline(
    planned: datetime, lead: int, zone: ZoneInfo
) -> None:
    now = planned - timedelta(hours=30)
    deadline = planned + timedelta(seconds=lead)
    moved = adjust_for_quiet_hours(planned, now=now, deadline=deadline, zone=zone, **QUIET)
    if moved is not None:
        assert not in_quiet_hours(moved, zone, **QUIET)
        assert now <= moved < deadline
