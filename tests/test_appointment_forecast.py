"""domain.appointment_forecast (the settings preview's planner) and the reminder rule of a settings change,
without a server: what the preview says is what next_step then does, step by step."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.appointment_forecast import compare, forecast
from domain.appointment_timeline import Step, next_step, replan
from domain.appointment_types import AppointmentState
from domain.automation import AutomationSettings
from domain.timekeeping import adjust_for_quiet_hours
from tests.test_appointment_timeline import START, snapshot

HOUR = timedelta(hours=1)


def _state(status: str = "confirmed", **automation: object) -> AppointmentState:
    return AppointmentState(snapshot=snapshot(status, START, **automation))


def _with(state: AppointmentState, **automation: object) -> AppointmentState:
    settings = AutomationSettings.model_validate(automation)
    after = state.model_copy(
        update={"snapshot": state.snapshot.model_copy(update={"automation": settings})}, deep=True
    )
    replan(after)  # the workflow's own step after reading new settings
    return after


def test_a_confirmed_appointment_forecasts_its_reminders_then_the_no_show_check() -> None:
    steps = forecast(_state(), START - timedelta(days=3))
    assert [(s.label, s.at - START, s.outcome) for s in steps] == [
        ("24h reminder", -24 * HOUR, "send"),
        ("2h reminder", -2 * HOUR, "send"),
        ("no-show check", timedelta(minutes=15), "no_show"),
    ]


def test_assume_attended_completes_and_asks_for_a_review() -> None:
    steps = forecast(_state(attendance="assume_attended"), START - HOUR)
    assert [(s.label, s.outcome) for s in steps] == [
        ("24h reminder", "skip: too_late"),  # past its window: skipped with a reason, as the workflow does
        ("2h reminder", "skip: too_late"),
        ("auto-complete (attended)", "completed"),
        ("review request", "send"),
        ("review reminder", "send"),
    ]
    assert steps[3].at == START + timedelta(minutes=35) + 2 * HOUR


def test_moving_the_24h_reminder_to_48h_after_it_was_sent_sends_nothing_again() -> None:
    state = _state()
    state.handled.append("reminder:86400:v1")
    state.last_reminder_at["v1"] = START - 24 * HOUR
    now = START - 20 * HOUR
    after = _with(state, reminder_offsets_s=[48 * 3600, 2 * 3600])
    assert after.already_reminded == ["reminder:172800:v1"]
    step = next_step(after, now)
    assert step is not None and (step.kind, step.reason) == ("skip_reminder", "already_reminded")
    changes = compare(forecast(state, now), forecast(after, now))
    assert [(c.label, c.change) for c in changes] == [("48h reminder", "appears")]
    assert changes[0].after is not None and changes[0].after.outcome == "skip: already_reminded"


def test_a_new_reminder_moved_into_the_past_follows_the_late_booking_rule() -> None:
    state = _state()
    now = START - 30 * HOUR  # nothing sent yet; 48 h is 18 h past but inside its useful window
    after = _with(state, reminder_offsets_s=[48 * 3600, 2 * 3600])
    changes = {c.label: c for c in compare(forecast(state, now), forecast(after, now))}
    assert set(changes) == {"24h reminder", "48h reminder"}
    assert changes["24h reminder"].change == "disappears"
    assert changes["48h reminder"].after is not None
    assert (changes["48h reminder"].after.at, changes["48h reminder"].after.outcome) == (now, "send")


def test_grace_and_attendance_changes_show_as_moves_and_swaps() -> None:
    state = _state()
    now = START - HOUR
    grace = compare(forecast(state, now), forecast(_with(state, no_show_grace_s=1800), now))
    assert [(c.label, c.change) for c in grace] == [("no-show check", "moves")]
    swap = compare(forecast(state, now), forecast(_with(state, attendance="assume_attended"), now))
    assert {(c.label, c.change) for c in swap} >= {
        ("no-show check", "disappears"),
        ("auto-complete (attended)", "appears"),
        ("review request", "appears"),
    }


offsets = st.lists(st.integers(min_value=3600, max_value=10 * 86400), min_size=1, max_size=4, unique=True)


@settings(max_examples=200, deadline=None)
@given(
    before=offsets,
    after=offsets,
    hours_before_start=st.integers(min_value=0, max_value=15 * 24),
    sent=st.booleans(),
    quiet_start=st.integers(min_value=0, max_value=23),
)
def test_after_a_change_the_forecast_sends_nothing_sent_already_and_nothing_in_the_past(
    before: list[int], after: list[int], hours_before_start: int, sent: bool, quiet_start: int
) -> None:
    """Property: after a change, no reminder is sent at or before one already sent for the slot, and no step
    is in the past. (That the workflow then does what the forecast says is checked on the real workflow:
    tests/test_settings_rollout.py.)"""
    now = START - timedelta(hours=hours_before_start)
    quiet = {"start": time(quiet_start, 0), "end": time((quiet_start + 3) % 24, 0)}
    state = _state(reminder_offsets_s=before, reminder_cutoff_s=600, quiet_hours=quiet)
    first = forecast(state, now)
    if sent and first and first[0].outcome == "send" and first[0].kind == "reminder":
        state.handled.append(next_step(state, now).key)  # type: ignore[union-attr]
        state.last_reminder_at["v1"] = first[0].at
        now = first[0].at
    changed = _with(state, reminder_offsets_s=after, reminder_cutoff_s=600, quiet_hours=quiet)
    zone = ZoneInfo("Europe/Berlin")

    def deliver_at(step: Step, clock: datetime) -> datetime | None:
        deadline = START - timedelta(seconds=600) if step.kind == "reminder" else None
        return adjust_for_quiet_hours(
            step.at, now=clock, deadline=deadline, zone=zone, start=quiet["start"], end=quiet["end"]
        )

    planned = forecast(changed, now, deliver_at)
    reminded = changed.last_reminder_at.get("v1")
    if reminded is not None:
        assert all(p.at > reminded or p.outcome != "send" for p in planned if p.kind == "reminder"), (
            "a reminder at or before one already sent would go out again"
        )
    assert all(p.at >= now for p in planned)
