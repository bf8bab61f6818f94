"""Policy activities: plan the next call, claim a call slot under the caps, call the voice agent, record
outcomes, renew and expire. Every write is idempotent, so Temporal's retries and replays change nothing twice.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.voice_agent import CallRequest, VoiceAgentClient, VoiceAgentRejected, VoiceAgentUnavailable
from db import policies as db
from db.engine import SessionFactory
from db.models import Call, Customer, Policy
from domain import policy_plan
from domain.call_config import CallSchedulerConfig
from domain.policy_types import (
    CallOutcomeName,
    CallRef,
    CallResult,
    CallSummarySignal,
    ClaimDecision,
    ClaimInput,
    FinishCallInput,
    PlanInput,
    PlannedCall,
    PolicyActionInput,
    PolicyPlan,
    RenewResult,
    TermInput,
)
from domain.statuses import CallStatus, PolicyStatus


class PolicyActivities:
    def __init__(self, sessions: SessionFactory, voice_agent: VoiceAgentClient) -> None:
        self._sessions = sessions
        self._agent = voice_agent

    @activity.defn
    async def plan_policy_call(self, request: PlanInput) -> PolicyPlan:
        """Re-read the policy, its calls and the live config; store and return the next call (or none)."""
        async with self._sessions() as session, session.begin():
            policy = await _locked_policy(session, request.policy_id, request.business_id)
            zone, config = await _call_settings(session, policy.business_id)
            manual = await db.scheduled_manual_calls(session, policy.id)
            facts = policy_plan.PolicyFacts(
                end_date=policy.end_date,
                active=policy.status == PolicyStatus.ACTIVE,
                call_attempts=policy.call_attempts,
                declined=policy.declined_at is not None,
                calls_stopped=policy.calls_stopped,
                last_call_day=await db.last_call_day(session, policy.id),
                call_not_before=policy.call_not_before,
                call_now_requested=policy.call_now_requested,
                manual_calls=[
                    policy_plan.ManualCall(c.id, c.scheduled_for) for c in manual if c.scheduled_for
                ],
            )
            planned = policy_plan.next_call(facts, config, zone, request.now)
            policy.next_call_at = planned.at if planned else None
            return PolicyPlan(
                policy_id=policy.id,
                business_id=policy.business_id,
                customer_id=policy.customer_id,
                status=policy.status.value,
                term=policy.term,
                end_date=policy.end_date,
                expires_at=policy_plan.expires_at(policy.end_date, zone),
                next_call=PlannedCall(**vars(planned)) if planned else None,
                calling_enabled=config.enabled,
                summary_timeout_minutes=config.summary_timeout_minutes,
                busy_retry_seconds=config.busy_retry_seconds,
                call_attempts=config.call_attempts,
                call_retry_seconds=config.call_retry_seconds,
                calls_left_reason=None if planned else policy_plan.why_no_call(facts, config),
            )

    @activity.defn
    async def claim_call(self, request: ClaimInput) -> ClaimDecision:
        """Take a call slot if the caps allow it, highest priority (soonest expiry) first.

        One transaction per business at a time (advisory lock). A policy may call when fewer than
        ``max_calls_per_day`` calls were placed on this local day and ``max_concurrent_calls`` are in flight,
        counting ahead of it every policy of the business already due today with an earlier end date. Over the
        daily cap the call moves to the next day's call time; with every slot busy the caller retries shortly.
        """
        async with self._sessions() as session, session.begin():
            await db.lock_business_calls(session, request.business_id)
            key = _call_key(request)
            existing = await db.call_by_key(session, key)
            if existing is not None:  # this claim committed before (a retried activity): same answer
                return ClaimDecision(outcome="granted", call_id=existing.id)
            policy = await _locked_policy(session, request.policy_id, request.business_id)
            if policy.status != PolicyStatus.ACTIVE or policy.term != request.term:
                return ClaimDecision(outcome="ended", detail=f"policy is {policy.status.value}")
            zone, config = await _call_settings(session, policy.business_id)
            if not config.enabled:
                return ClaimDecision(outcome="paused", detail="calling is disabled")
            manual = (
                await db.locked_scheduled_call(session, policy.id, request.call.call_id)
                if request.call.kind == "manual" and request.call.call_id is not None
                else None
            )
            if request.call.kind == "manual" and manual is None:
                return ClaimDecision(outcome="skipped", detail="the scheduled call was cancelled")
            today = policy_plan.local_day(request.now, zone)
            allowed = policy_plan.earliest_allowed_day(await db.last_call_day(session, policy.id), config)
            if allowed is not None and today < allowed:
                detail = f"called within {config.skip_if_called_within_days} days; next call from {allowed}"
                if manual is not None:
                    manual.status, manual.error = CallStatus.SKIPPED, detail
                    db.record_call(session, manual)
                return ClaimDecision(outcome="skipped", detail=detail)
            placed_today = await db.calls_placed_on(session, policy.business_id, today)
            in_flight = await db.calls_in_flight(session, policy.business_id)
            day_start = policy_plan.local_wall_midnight(request.now, zone)
            ahead = await db.policies_ahead(session, policy, request.now, day_start)
            if ahead >= config.max_calls_per_day - placed_today:
                retry_at = policy_plan.next_day_call_time(request.now, config, zone)
                db.record_capped(session, policy, manual, retry_at, placed_today, config.max_calls_per_day)
                if manual is not None:
                    manual.scheduled_for = retry_at
                else:
                    policy.call_not_before = retry_at
                policy.call_now_requested = False
                return ClaimDecision(
                    outcome="over_daily_cap",
                    retry_at=retry_at,
                    detail=f"{placed_today} of {config.max_calls_per_day} calls placed today, {ahead} ahead",
                )
            if ahead >= config.max_concurrent_calls - in_flight:
                return ClaimDecision(
                    outcome="busy",
                    retry_at=request.now + timedelta(seconds=config.busy_retry_seconds),
                    detail=f"{in_flight} of {config.max_concurrent_calls} calls in flight, {ahead} ahead",
                )
            call = manual or Call(
                business_id=policy.business_id,
                policy_id=policy.id,
                kind="automatic",
                reason=request.call.reason,
                scheduled_for=request.call.at,
            )
            call.call_key, call.status, call.local_day = key, CallStatus.DIALING, today
            call.started_at = request.now
            session.add(call)
            policy.next_call_at, policy.call_not_before, policy.call_now_requested = None, None, False
            await session.flush()
            return ClaimDecision(outcome="granted", call_id=call.id)

    @activity.defn
    async def place_call(self, ref: CallRef) -> CallResult:
        """Ask the voice agent to call; record its outcome.

        The policy row is share-locked for the whole request, so a cancellation commits before (no call) or
        after (the call was placed). The call row is not locked while the agent works: its summary may come
        back (``PUT /v1/calls/{id}/summary``) before the agent's reply does, and then it stands."""
        async with self._sessions() as session, session.begin():
            call = await session.get(Call, ref.call_id)
            if call is None or call.business_id != ref.business_id:
                raise ApplicationError("the call record is gone", type="CallMissing", non_retryable=True)
            if call.status != CallStatus.DIALING:  # a retry after the outcome was stored
                return _result_of(call)
            policy = await db.share_locked_policy(session, call.policy_id)
            customer = await session.get(Customer, policy.customer_id)
            refusal = _refusal(policy, customer)
            if refusal is not None:
                outcome: CallOutcomeName = "cancelled" if policy.status != PolicyStatus.ACTIVE else "failed"
                await db.close_dialing_call(session, call.id, CallStatus(outcome), refusal)
                if outcome == "failed":
                    policy.call_attempts += 1
                return CallResult(call_id=call.id, outcome=outcome, detail=refusal)
            assert customer is not None and customer.phone
            request = CallRequest(
                call_id=call.id,
                policy_id=policy.id,
                reason=call.reason or "renewal",
                customer_name=customer.name,
                phone=customer.phone,
                locale=customer.locale,
                idempotency_key=call.call_key or f"call-{call.id}",
            )
            try:
                outcome = await self._agent.place_call(request)
            except VoiceAgentUnavailable as error:
                raise ApplicationError(str(error), type="VoiceAgentUnavailable") from error
            except VoiceAgentRejected as error:
                raise ApplicationError(str(error), type="VoiceAgentRejected", non_retryable=True) from error
            if outcome == "answered":
                await db.close_dialing_call(session, call.id, CallStatus.ANSWERED, None, ended=False)
            elif outcome == "declined":
                await db.close_dialing_call(session, call.id, CallStatus.DECLINED, None)
                policy.declined_at = datetime.now(UTC)
            else:
                await db.close_dialing_call(session, call.id, CallStatus.NO_ANSWER, None)
                policy.call_attempts += 1
            return CallResult(call_id=call.id, outcome=outcome)

    @activity.defn
    async def finish_call(self, request: FinishCallInput) -> CallSummarySignal | None:
        """Close a call the workflow gave up on (agent unreachable, or no summary in time).

        If the summary was stored meanwhile (its signal lost), return it instead of closing the call."""
        async with self._sessions() as session, session.begin():
            call = await db.locked_call(session, request.business_id, request.call_id)
            if call is None:
                raise ApplicationError("the call record is gone", type="CallMissing", non_retryable=True)
            if call.status == CallStatus.COMPLETED and call.renewal_agreed is not None:
                return CallSummarySignal(call_id=call.id, renewal_agreed=call.renewal_agreed)
            if call.status not in CallStatus.in_flight():
                return None
            policy = await _locked_policy(session, call.policy_id, call.business_id)
            call.ended_at = datetime.now(UTC)
            if request.outcome == "no_summary":
                call.status, call.error = CallStatus.COMPLETED, "no summary from the voice agent in time"
            else:
                call.status, call.error = CallStatus.FAILED, request.error or request.outcome
            policy.call_attempts += 1
            db.record_call(session, call)
            return None

    @activity.defn
    async def apply_policy_action(self, request: PolicyActionInput) -> None:
        async with self._sessions() as session, session.begin():
            policy = await _locked_policy(session, request.policy_id, request.business_id)
            db.apply_action(
                session, policy, request.action, await db.scheduled_manual_calls(session, policy.id)
            )

    @activity.defn
    async def renew_policy(self, request: TermInput) -> RenewResult:
        """Extend the end date by the policy's duration and start the next term (once per term)."""
        async with self._sessions() as session, session.begin():
            policy = await _locked_policy(session, request.policy_id, request.business_id)
            if policy.term != request.term or policy.status != PolicyStatus.ACTIVE:
                return RenewResult(
                    policy_id=policy.id,
                    term=policy.term,
                    end_date=policy.end_date,
                    renewed=policy.term > request.term,
                )
            policy.end_date = db.add_months(policy.end_date, policy.duration_months)
            policy.term += 1
            policy.call_attempts, policy.declined_at, policy.calls_stopped = 0, None, False
            policy.call_not_before, policy.call_now_requested, policy.next_call_at = None, False, None
            db.record_policy(session, policy, "policy.renewed")
            return RenewResult(policy_id=policy.id, term=policy.term, end_date=policy.end_date, renewed=True)

    @activity.defn
    async def expire_policy(self, request: TermInput) -> bool:
        """Mark the policy expired if this term's end has passed and it is still active; True if it is."""
        async with self._sessions() as session, session.begin():
            policy = await _locked_policy(session, request.policy_id, request.business_id)
            zone, _ = await _call_settings(session, policy.business_id)
            if policy.status == PolicyStatus.ACTIVE and policy.term == request.term:
                if request.now < policy_plan.expires_at(policy.end_date, zone):
                    return False  # the end date moved meanwhile
                policy.status, policy.next_call_at = PolicyStatus.EXPIRED, None
                for call in await db.scheduled_manual_calls(session, policy.id):
                    call.status, call.error = CallStatus.SKIPPED, "policy expired"
                    db.record_call(session, call)
                db.record_policy(session, policy, "policy.expired")
            return policy.status == PolicyStatus.EXPIRED


def _call_key(request: ClaimInput) -> str:
    which = f"manual-{request.call.call_id}" if request.call.kind == "manual" else request.call.at.isoformat()
    return f"policy-{request.policy_id}:term-{request.term}:{which}"


def _refusal(policy: Policy, customer: Customer | None) -> str | None:
    if policy.status != PolicyStatus.ACTIVE:
        return f"policy {policy.status.value}"
    if customer is None or not customer.phone:
        return "the customer has no phone number"
    return None


def _result_of(call: Call) -> CallResult:
    outcome = {
        CallStatus.ANSWERED: "answered",
        CallStatus.COMPLETED: "answered",
        CallStatus.DECLINED: "declined",
        CallStatus.NO_ANSWER: "no_answer",
        CallStatus.FAILED: "failed",
    }.get(call.status, "cancelled")
    return CallResult.model_validate({"call_id": call.id, "outcome": outcome, "detail": call.error or ""})


async def _locked_policy(session: AsyncSession, policy_id: int, business_id: int) -> Policy:
    policy = await db.locked_policy(session, business_id, policy_id)
    if policy is None:
        raise ApplicationError("the policy is gone", type="PolicyMissing", non_retryable=True)
    return policy


async def _call_settings(session: AsyncSession, business_id: int) -> tuple[ZoneInfo, CallSchedulerConfig]:
    settings = await db.call_settings(session, business_id)
    if settings is None:
        raise ApplicationError("the business is gone", type="BusinessMissing", non_retryable=True)
    return settings
