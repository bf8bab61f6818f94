"""domain.policy_plan.next_call, the policy's planner, without a server: first call day, skip window,
retries, call now, manual calls, the call window, and properties over any facts and config in range."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.call_config import CallSchedulerConfig
from domain.policy_plan import ManualCall, PolicyFacts, expires_at, local_day, next_call

KOLKATA = ZoneInfo("Asia/Kolkata")
END = date(2030, 6, 30)
CONFIG = CallSchedulerConfig()  # the predecessor's: 30 days before, 10:00-18:00, skip 7 days, 3 tries


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=KOLKATA)


def facts(**changes: object) -> PolicyFacts:
    values: dict[str, object] = {
        "end_date": END,
        "active": True,
        "call_attempts": 0,
        "declined": False,
        "calls_stopped": False,
        "last_call_day": None,
    }
    return PolicyFacts(**{**values, **changes})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("situation", "now", "expected"),
    [
        ("first call: 30 days before, at 10:00 local", at(date(2030, 5, 1), 9), at(date(2030, 5, 31), 10)),
        ("asked late in the day: the next window", at(date(2030, 6, 10), 19), at(date(2030, 6, 11), 10)),
        ("inside the window: now", at(date(2030, 6, 10), 11), at(date(2030, 6, 10), 11)),
    ],
)
def test_first_calls(situation: str, now: datetime, expected: datetime) -> None:
    planned = next_call(facts(), CONFIG, KOLKATA, now)
    assert planned is not None and planned.at == expected, situation


def test_an_unanswered_call_is_retried_after_the_skip_window() -> None:
    last = date(2030, 5, 31)
    planned = next_call(facts(call_attempts=1, last_call_day=last), CONFIG, KOLKATA, at(last, 12))
    assert planned is not None and planned.at == at(last + timedelta(days=7), 10)
    assert planned.reason.endswith("retry 2")


@pytest.mark.parametrize(
    "change",
    [{"call_attempts": 3}, {"declined": True}, {"calls_stopped": True}, {"active": False}],
)
def test_no_automatic_call_when_the_term_is_done_for(change: dict[str, object]) -> None:
    assert next_call(facts(**change), CONFIG, KOLKATA, at(date(2030, 6, 1), 12)) is None


def test_call_now_honours_the_skip_window() -> None:
    today = date(2030, 6, 3)
    soon = next_call(facts(call_now_requested=True), CONFIG, KOLKATA, at(today, 20))
    assert soon is not None and soon.at == at(today, 20) and soon.reason == "call requested now"
    held = next_call(
        facts(call_now_requested=True, last_call_day=today - timedelta(days=2)),
        CONFIG,
        KOLKATA,
        at(today, 12),
    )
    assert held is not None and held.at == at(today + timedelta(days=5), 10)


def test_a_manual_call_before_the_automatic_one_comes_first_and_none_after_the_end() -> None:
    manual = ManualCall(call_id=7, scheduled_for=at(date(2030, 5, 20), 15))
    planned = next_call(facts(manual_calls=[manual]), CONFIG, KOLKATA, at(date(2030, 5, 1), 9))
    assert planned is not None and (planned.kind, planned.call_id) == ("manual", 7)
    assert next_call(facts(), CONFIG, KOLKATA, expires_at(END, KOLKATA)) is None


configs = st.builds(
    CallSchedulerConfig,
    days_before_expiry=st.integers(1, 366),
    call_time=st.sampled_from([time(0, 0), time(8, 30), time(10, 0), time(22, 0)]),
    last_call_time=st.just(time(23, 59)),
    skip_if_called_within_days=st.integers(0, 90),
    max_retries_per_customer=st.integers(1, 20),
)


@given(
    config=configs,
    end_offset_days=st.integers(-5, 800),
    now_hours=st.integers(0, 24 * 400),
    attempts=st.integers(0, 20),
    last_call_ago=st.one_of(st.none(), st.integers(0, 120)),
    zone=st.sampled_from(["Asia/Kolkata", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe"]),
)
def test_a_planned_automatic_call_is_always_inside_the_rules(
    config: CallSchedulerConfig,
    end_offset_days: int,
    now_hours: int,
    attempts: int,
    last_call_ago: int | None,
    zone: str,
) -> None:
    tz = ZoneInfo(zone)
    now = datetime(2030, 1, 1, tzinfo=UTC) + timedelta(hours=now_hours)
    today = local_day(now, tz)
    last = today - timedelta(days=last_call_ago) if last_call_ago is not None else None
    policy = facts(
        end_date=today + timedelta(days=end_offset_days), call_attempts=attempts, last_call_day=last
    )
    planned = next_call(policy, config, tz, now)
    if planned is None:
        return
    local = planned.at.astimezone(tz)
    assert now <= planned.at < expires_at(policy.end_date, tz)  # never in the past, never after the end
    assert config.call_time <= local.time().replace(tzinfo=None) < config.last_call_time or local.time() == (
        now.astimezone(tz).time()
    )
    assert attempts < config.max_retries_per_customer
    if last is not None:
        assert local.date() >= last + timedelta(days=max(1, config.skip_if_called_within_days))


def test_a_twelve_month_renewal_is_the_same_day_a_year_later_on_every_day_of_the_century() -> None:
    """Every day from 2000 to 2099, year ends and leap days included: the days a test reading today's date
    can land on (a 29 February renews to 28 February; 31 December to the next year's)."""
    from db.policies import add_months
    from tests.policy_support import a_year_after

    day = date(2000, 1, 1)
    while day.year < 2100:
        assert add_months(day, 12) == a_year_after(day), day
        day += timedelta(days=1)
    assert a_year_after(date(2028, 2, 29)) == date(2029, 2, 28)
    assert a_year_after(date(2026, 12, 31)) == date(2027, 12, 31)
