"""domain.appointment_timeline.next_step, the appointment's planner, without a server: late bookings, skips,
status steps, DST, and properties over any settings in range."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.appointment_timeline import next_step, reminder_windows
from domain.appointment_types import AppointmentSnapshot, AppointmentState
from domain.automation import AutomationSettings
from domain.limits import MAX_DELAY_S, MAX_OFFSET_S

START = datetime(2030, 3, 14, 13, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def snapshot(
    status: str = "confirmed", starts_at: datetime = START, **automation: object
) -> AppointmentSnapshot:
    return AppointmentSnapshot(
        appointment_id=1,
        business_id=1,
        customer_id=1,
        status=status,
        starts_at=starts_at,
        ends_at=starts_at + HOUR,
        version=1,
        time_zone="Europe/Berlin",
        automation=AutomationSettings.model_validate(automation),
        completed_at=starts_at + HOUR if status == "completed" else None,
    )


@pytest.mark.parametrize(
    ("booked_before_start", "handled", "kind", "label"),
    [
        (timedelta(days=3), [], "reminder", "24h reminder"),  # on time: the 24 h reminder is next
        (timedelta(hours=20), [], "reminder", "24h reminder"),  # 4 h late, inside its useful window: sent
        (timedelta(hours=3), [], "skip_reminder", "24h reminder"),  # past it: skipped (superseded) first
        (timedelta(minutes=100), ["reminder:86400:v1"], "reminder", "2h reminder"),  # then the 2 h one, now
        (timedelta(minutes=20), ["reminder:86400:v1"], "skip_reminder", "2h reminder"),  # inside the cut-off
    ],
)
def test_late_bookings_get_the_reminders_still_useful(
    booked_before_start: timedelta, handled: list[str], kind: str, label: str
) -> None:
    state = AppointmentState(snapshot=snapshot(), handled=list(handled))
    step = next_step(state, START - booked_before_start)
    assert step is not None and (step.kind, step.label) == (kind, label)


def test_skip_reasons_say_whether_a_later_reminder_is_still_coming() -> None:
    state = AppointmentState(snapshot=snapshot())
    superseded = next_step(state, START - timedelta(hours=3))
    assert superseded is not None and superseded.reason == "superseded"
    state.handled.append("reminder:86400:v1")
    too_late = next_step(state, START - timedelta(minutes=20))
    assert too_late is not None and too_late.reason == "too_late"


@pytest.mark.parametrize(
    ("status", "kind", "at"),
    [
        ("pending", "expire", START),
        ("checked_in", "auto_complete", START + timedelta(minutes=60)),  # max(end, start + 35 min)
        ("completed", "review_request", START + HOUR + timedelta(hours=2)),
        ("cancelled", None, None),
        ("no_show", None, None),
    ],
)
def test_each_status_has_its_next_step(status: str, kind: str | None, at: datetime | None) -> None:
    step = next_step(AppointmentState(snapshot=snapshot(status)), START - timedelta(days=3))
    assert (step.kind, step.at) == (kind, at) if step else (kind, at) == (None, None)


def test_the_no_show_check_follows_the_last_reminder() -> None:
    state = AppointmentState(snapshot=snapshot(no_show_grace_s=900))
    state.handled += ["reminder:86400:v1", "reminder:7200:v1"]
    step = next_step(state, START - timedelta(minutes=5))
    assert step is not None and (step.kind, step.at) == ("no_show_check", START + timedelta(minutes=15))


def test_reminders_keep_their_local_wall_time_across_a_dst_change() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    start = datetime(2030, 3, 31, 10, 0, tzinfo=berlin)  # the Sunday clocks go forward at 02:00
    windows = reminder_windows(snapshot(starts_at=start.astimezone(UTC)))
    day_before = windows[0].instant.astimezone(berlin)
    # 24 h of elapsed time before 10:00 CEST is 09:00 CET the day before: offsets are durations, not wall time
    assert (day_before.day, day_before.hour) == (30, 9)


offsets = st.lists(st.integers(2, MAX_OFFSET_S), min_size=1, max_size=10, unique=True)


@given(
    offsets=offsets,
    cutoff_fraction=st.floats(0, 0.99),
    grace=st.integers(0, MAX_DELAY_S),
    now_offset=st.integers(-2 * MAX_OFFSET_S, 2 * MAX_DELAY_S),
    status=st.sampled_from(["pending", "confirmed", "checked_in", "completed", "cancelled", "no_show"]),
)
def test_any_settings_in_range_give_a_finite_timeline_with_steps_in_order(
    offsets: list[int], cutoff_fraction: float, grace: int, now_offset: int, status: str
) -> None:
    """Whatever the settings and the moment: next_step never raises, never repeats a handled step, each
    step's key is new, and a workflow that handles every step in turn reaches the end in a bounded number."""
    cutoff = int(min(offsets) * cutoff_fraction)
    state = AppointmentState(
        snapshot=snapshot(status, reminder_offsets_s=offsets, reminder_cutoff_s=cutoff, no_show_grace_s=grace)
    )
    now = START + timedelta(seconds=now_offset)
    for _ in range(len(offsets) + 4):
        step = next_step(state, now)
        if step is None:
            return
        assert step.key not in state.handled
        state.handled.append(step.key)
        if step.kind == "review_request":
            state.review_requested_at = max(now, step.at)
        now = max(now, step.at)
    assert next_step(state, now) is None or state.snapshot.status in ("confirmed", "completed")
