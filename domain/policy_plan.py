"""When a policy's next renewal call is due: pure arithmetic over the policy, its calls and the config.

The first call day is the end date minus ``days_before_expiry`` (the shared expiring-record timeline in
``domain.expiry``); a call never falls within ``skip_if_called_within_days`` calendar days of the
previous one (manual calls included); an unanswered call is retried on the next allowed day until
``max_retries_per_customer``; calls start only inside the business-local window [call_time, last_call_time),
so a moment missed while calling was paused or the worker was down moves to the next moment inside a window.
The activity that plans, the API that lists pending customers and the tests all use this one function.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from domain.call_config import CallSchedulerConfig
from domain.expiry import expiry_moments
from domain.timekeeping import local_wall_time


@dataclass(frozen=True)
class ManualCall:
    call_id: int
    scheduled_for: datetime


@dataclass(frozen=True)
class PolicyFacts:
    end_date: date
    active: bool
    call_attempts: int
    declined: bool
    calls_stopped: bool
    last_call_day: date | None
    call_not_before: datetime | None = None
    call_now_requested: bool = False
    manual_calls: list[ManualCall] = field(default_factory=list)


@dataclass(frozen=True)
class NextCall:
    at: datetime
    kind: Literal["automatic", "manual"]
    reason: str
    call_id: int | None = None


def expires_at(end_date: date, zone: ZoneInfo) -> datetime:
    """A policy is in force through its end date: it expires at the business-local midnight after it."""
    return _at(end_date + timedelta(days=1), time(0, 0), zone)


def first_call_at(end_date: date, config: CallSchedulerConfig, zone: ZoneInfo) -> datetime:
    moments = expiry_moments(
        datetime.combine(end_date, time(12, 0), tzinfo=zone),  # count days back from the end date itself
        [config.days_before_expiry],
        config.call_time,
        zone,
    )
    return moments[0].at if moments else _at(end_date, config.call_time, zone)


def skip_gap_days(config: CallSchedulerConfig) -> int:
    """Calendar days from one call's day to the next allowed (never two calls on one day)."""
    return max(1, config.skip_if_called_within_days)


def earliest_allowed_day(last_call_day: date | None, config: CallSchedulerConfig) -> date | None:
    """The first local day a call may happen after the previous one (None: no previous call)."""
    if last_call_day is None:
        return None
    return last_call_day + timedelta(days=skip_gap_days(config))


def automatic_calls_left(facts: PolicyFacts, config: CallSchedulerConfig) -> bool:
    return (
        not (facts.declined or facts.calls_stopped) and facts.call_attempts < config.max_retries_per_customer
    )


def why_no_call(facts: PolicyFacts, config: CallSchedulerConfig) -> str:
    """Why ``next_call`` planned nothing, in an operator's words."""
    if not facts.active:
        return "policy not active"
    if facts.declined:
        return "declined this term"
    if facts.calls_stopped:
        return "calls stopped by an operator"
    if facts.call_attempts >= config.max_retries_per_customer:
        return f"{facts.call_attempts} unanswered calls (max_retries_per_customer)"
    return "no call day left before the end date"


def next_call(
    facts: PolicyFacts, config: CallSchedulerConfig, zone: ZoneInfo, now: datetime
) -> NextCall | None:
    if not facts.active:
        return None
    end = expires_at(facts.end_date, zone)
    candidates: list[NextCall] = []
    allowed_day = earliest_allowed_day(facts.last_call_day, config)
    if automatic_calls_left(facts, config):
        if facts.call_now_requested and (allowed_day is None or now.astimezone(zone).date() >= allowed_day):
            candidates.append(NextCall(at=now, kind="automatic", reason="call requested now"))
        else:
            at = first_call_at(facts.end_date, config, zone)
            if allowed_day is not None:
                at = max(at, _at(allowed_day, config.call_time, zone))
            if facts.call_not_before is not None:
                at = max(at, facts.call_not_before)
            retry = f", retry {facts.call_attempts + 1}" if facts.call_attempts else ""
            candidates.append(
                NextCall(
                    at=inside_call_window(max(at, now), config, zone),
                    kind="automatic",
                    reason=f"expires {facts.end_date.isoformat()}{retry}",
                )
            )
    for manual in facts.manual_calls:
        candidates.append(
            NextCall(
                at=max(manual.scheduled_for, now), kind="manual", reason="scheduled", call_id=manual.call_id
            )
        )
    due = [c for c in candidates if c.at < end]
    return min(due, key=lambda c: (c.at, c.kind != "manual")) if due else None


def inside_call_window(instant: datetime, config: CallSchedulerConfig, zone: ZoneInfo) -> datetime:
    """``instant`` if it is inside a business-local call window, else the start of the next window."""
    local = instant.astimezone(zone)
    if local.time() < config.call_time:
        return _at(local.date(), config.call_time, zone)
    if local.time() >= config.last_call_time:
        return _at(local.date() + timedelta(days=1), config.call_time, zone)
    return instant


def next_day_call_time(instant: datetime, config: CallSchedulerConfig, zone: ZoneInfo) -> datetime:
    return _at(instant.astimezone(zone).date() + timedelta(days=1), config.call_time, zone)


def local_day(instant: datetime, zone: ZoneInfo) -> date:
    return instant.astimezone(zone).date()


def _at(day: date, at: time, zone: ZoneInfo) -> datetime:
    return local_wall_time(datetime.combine(day, time(12, 0), tzinfo=zone), at, zone)


def local_wall_midnight(instant: datetime, zone: ZoneInfo) -> datetime:
    return _at(instant.astimezone(zone).date(), time(0, 0), zone)


def local_day_ends(instant: datetime, zone: ZoneInfo) -> datetime:
    """The business-local midnight that ends the day of ``instant``."""
    return _at(instant.astimezone(zone).date() + timedelta(days=1), time(0, 0), zone)
