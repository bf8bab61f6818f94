"""Types that cross the Temporal boundary for policies and their renewal calls (ids, instants, outcomes)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from domain.statuses import PolicyStatus

PolicyPhase = Literal[
    "call_scheduled",  # sleeping until the next call
    "calling",  # a call is claimed or in progress
    "awaiting_summary",  # the customer answered; the agent's summary has not come back yet
    "calls_done",  # no call left this term (declined, stopped, out of retries); waiting for the end date
    "paused",  # calling is disabled for the business
    "expired",
    "cancelled",
    "renewed",
]
CallOutcomeName = Literal["answered", "no_answer", "declined", "failed", "cancelled"]
ClaimOutcome = Literal["granted", "busy", "over_daily_cap", "paused", "skipped", "ended"]


PolicyAction = Literal["cancel", "stop_calls", "call_now", "decline"]


class PolicyRef(BaseModel):
    policy_id: int
    business_id: int


class PolicyInput(PolicyRef):
    """Start (and continue-as-new) input: ids, plus the steering that arrived and is not yet applied."""

    pending_actions: list[PolicyAction] = Field(
        default_factory=list, description="signals carried across continue-as-new, applied first"
    )


class PlanInput(PolicyRef):
    now: datetime = Field(description="workflow time: the test server's clock is not the wall clock")


class PlannedCall(BaseModel):
    at: datetime
    kind: Literal["automatic", "manual"]
    reason: str
    call_id: int | None = None


class PolicyPlan(BaseModel):
    policy_id: int
    business_id: int
    customer_id: int
    status: PolicyStatus
    term: int
    end_date: date
    expires_at: datetime
    next_call: PlannedCall | None
    calling_enabled: bool
    summary_timeout_minutes: int
    busy_retry_seconds: int
    call_attempts: int = 3
    call_retry_seconds: int = 60
    calls_left_reason: str | None = Field(default=None, description="why no call is planned, if none is")


class ClaimInput(PolicyRef):
    term: int
    call: PlannedCall
    now: datetime


class ClaimDecision(BaseModel):
    outcome: ClaimOutcome
    call_id: int | None = None
    retry_at: datetime | None = None
    detail: str = ""


class CallRef(BaseModel):
    call_id: int
    business_id: int


class CallResult(BaseModel):
    call_id: int
    outcome: CallOutcomeName
    detail: str = ""


class FinishCallInput(CallRef):
    outcome: Literal["no_answer", "failed", "no_summary"]
    now: datetime
    error: str | None = None


class CallSummarySignal(BaseModel):
    """Signal ``call_summary``: the voice agent's summary arrived through ``PUT /v1/calls/{id}/summary``."""

    call_id: int
    renewal_agreed: bool


class PolicyActionInput(PolicyRef):
    """An operator's action, by signal (``temporal workflow signal --name cancel|stop_calls|call_now``)."""

    action: PolicyAction


class TermInput(PolicyRef):
    term: int
    now: datetime


class RenewResult(BaseModel):
    policy_id: int
    term: int
    end_date: date
    renewed: bool


class PolicyView(BaseModel):
    policy_id: int
    phase: PolicyPhase
    term: int
    end_date: date | None = None
    next_call_at: datetime | None = None
    next_call_reason: str | None = None
    calls: list[str] = Field(default_factory=list, description="call id: outcome, this term")
