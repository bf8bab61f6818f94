"""PolicyWorkflow (``policy-<id>``): renewal calls before a policy ends, renewal into the next term, expiry.

Each loop re-plans from PostgreSQL (the policy, its calls and the business's live call config), then sleeps
until the next call or the end of the term. A due call claims a slot under the business-wide caps (a
PostgreSQL-arbitrated claim, soonest expiry first), asks the voice agent to call on the ``keeptime-calls``
queue, and, if the customer answered, waits for the agent's summary (signal ``call_summary``). Agreed renewal
extends the end date and continues-as-new into the next term; a decline or too many unanswered calls end the
calling for the term; the end date without renewal marks the policy expired and tells the customer.

Signals: ``refresh`` (re-read policy and config: sent after config or policy changes), ``cancel``,
``stop_calls``, ``call_now``, ``call_summary``. Query: ``state``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, NoReturn, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.policies import PolicyActivities
    from domain import search_attributes as attrs
    from domain.notification_types import NotificationRequest
    from domain.policy_types import (
        CallRef,
        ClaimInput,
        FinishCallInput,
        PlanInput,
        PlannedCall,
        PolicyAction,
        PolicyActionInput,
        PolicyInput,
        PolicyPhase,
        PolicyPlan,
        PolicyRef,
        PolicyView,
        TermInput,
    )
    from domain.policy_types import CallSummarySignal as CallSummary
    from domain.statuses import PolicyStatus
    from domain.task_queues import CALLS
    from workflows.db_calls import call_db
    from workflows.delivery import send_now

Arg = TypeVar("Arg")
Result = TypeVar("Result")


async def _db(method: Callable[[Any, Arg], Awaitable[Result]], arg: Arg, summary: str) -> Result:
    return await call_db(method, arg, summary, queue=CALLS)


CONTINUE_AS_NEW_AFTER_EVENTS = 2_000
SUGGESTED_CAN = "policy-continue-as-new-when-suggested"


def _call_retry(plan: PolicyPlan) -> RetryPolicy:
    """Transport failures only, evenly spaced: the predecessor's three attempts sixty seconds apart."""
    return RetryPolicy(
        initial_interval=timedelta(seconds=plan.call_retry_seconds),
        backoff_coefficient=1.0,
        maximum_attempts=plan.call_attempts,
        non_retryable_error_types=["VoiceAgentRejected", "CallMissing"],
    )


@workflow.defn
class PolicyWorkflow:
    @workflow.init
    def __init__(self, start: PolicyInput) -> None:
        self._ref = PolicyRef(policy_id=start.policy_id, business_id=start.business_id)
        self._woken = False
        self._actions: list[PolicyAction] = list(start.pending_actions)
        self._summaries: dict[int, bool] = {}
        self._plan: PolicyPlan | None = None
        self._phase: PolicyPhase = "call_scheduled"
        self._calls: list[str] = []

    @workflow.run
    async def run(self, start: PolicyInput) -> PolicyView:
        try:
            while True:
                self._woken = False
                await self._apply_actions()
                plan = self._plan = await _db(
                    PolicyActivities.plan_policy_call,
                    PlanInput(**self._ref.model_dump(), now=workflow.now()),
                    "plan",
                )
                if plan.status != PolicyStatus.ACTIVE:
                    self._set_phase("expired" if plan.status == PolicyStatus.EXPIRED else "cancelled", None)
                    break
                if workflow.now() >= plan.expires_at:
                    if await self._expire(plan):
                        break
                    continue
                call = plan.next_call if plan.calling_enabled else None
                phase: PolicyPhase = (
                    "call_scheduled" if call else ("paused" if plan.next_call else "calls_done")
                )
                due = min(call.at, plan.expires_at) if call else plan.expires_at
                self._set_phase(phase, due)
                label = f"{call.kind} call: {call.reason}" if call else "end of term"
                if await self._sleep_until(due, label) or call is None:
                    continue
                if await self._call(plan, call):
                    self._set_phase("renewed", None)
                    await self._continue_as_new()  # the next term starts with a fresh history
                if self._history_is_long():
                    await self._continue_as_new()
        except asyncio.CancelledError:
            # `temporal workflow cancel` ends it like the cancel signal: the row says cancelled too.
            await asyncio.shield(self._act("cancel"))
            raise
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.state()

    def _history_is_long(self) -> bool:
        info = workflow.info()
        if info.get_current_history_length() > CONTINUE_AS_NEW_AFTER_EVENTS:
            return True
        return workflow.patched(SUGGESTED_CAN) and info.is_continue_as_new_suggested()

    async def _continue_as_new(self) -> NoReturn:
        """Hand over to the next run with every signal that arrived and is not applied yet.

        The list is read after the last await: no handler can run between that read and the command."""
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.continue_as_new(PolicyInput(**self._ref.model_dump(), pending_actions=list(self._actions)))

    async def _sleep_until(self, at: datetime, label: str) -> bool:
        """Sleep until ``at``; True if a signal woke us first (the plan may have changed)."""
        delay = at - workflow.now()
        if delay <= timedelta(0):
            return self._woken
        try:
            await workflow.wait_condition(lambda: self._woken, timeout=delay, timeout_summary=label)
            return True
        except TimeoutError:
            return False

    async def _call(self, plan: PolicyPlan, call: PlannedCall) -> bool:
        """Claim a slot, place the call, wait for the summary; True if the customer agreed to renew."""
        while True:
            decision = await _db(
                PolicyActivities.claim_call,
                ClaimInput(**self._ref.model_dump(), term=plan.term, call=call, now=workflow.now()),
                f"claim {call.kind} call",
            )
            if decision.outcome == "granted" and decision.call_id is not None:
                break
            self._calls.append(f"{call.kind} call: {decision.outcome} ({decision.detail})")
            if decision.outcome != "busy" or decision.retry_at is None:
                return False
            self._set_phase("call_scheduled", decision.retry_at)
            self._woken = False
            if await self._sleep_until(decision.retry_at, "every call slot busy"):
                return False  # something changed: re-plan first
            if self._history_is_long():
                return False  # a long wait for a slot: the main loop continues as new, then claims again
        ref = CallRef(call_id=decision.call_id, business_id=plan.business_id)
        self._set_phase("calling", None)
        try:
            result = await workflow.execute_activity_method(
                PolicyActivities.place_call,
                ref,
                task_queue=CALLS,
                start_to_close_timeout=timedelta(seconds=60),
                retry_policy=_call_retry(plan),
                summary=f"call {ref.call_id}: {call.reason}",
            )
        except ActivityError as error:
            await self._finish(ref, "failed", str(error.cause or error))
            self._calls.append(f"call {ref.call_id}: failed")
            return False
        self._calls.append(f"call {ref.call_id}: {result.outcome}")
        if result.outcome != "answered":
            return False
        self._set_phase("awaiting_summary", None)
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(
                lambda: ref.call_id in self._summaries or "cancel" in self._actions,
                timeout=timedelta(minutes=plan.summary_timeout_minutes),
                timeout_summary=f"summary of call {ref.call_id}",
            )
        agreed = self._summaries.get(ref.call_id)
        if agreed is None:
            stored = await self._finish(ref, "no_summary", None)
            agreed = stored.renewal_agreed if stored else False
        self._calls.append(f"call {ref.call_id}: renewal {'agreed' if agreed else 'not agreed'}")
        if not agreed:
            await self._act("decline")
            return False
        renewal = await _db(
            PolicyActivities.renew_policy,
            TermInput(**self._ref.model_dump(), term=plan.term, now=workflow.now()),
            "renew",
        )
        return renewal.renewed

    async def _finish(self, ref: CallRef, outcome: str, error: str | None) -> CallSummary | None:
        finish = FinishCallInput.model_validate(
            {**ref.model_dump(), "outcome": outcome, "now": workflow.now(), "error": error}
        )
        return await _db(PolicyActivities.finish_call, finish, f"close call {ref.call_id}")

    async def _expire(self, plan: PolicyPlan) -> bool:
        term = TermInput(**self._ref.model_dump(), term=plan.term, now=workflow.now())
        if not await _db(PolicyActivities.expire_policy, term, "expire"):
            return False
        request = NotificationRequest(
            business_id=plan.business_id,
            entity_type="policy",
            entity_id=plan.policy_id,
            event="policy.expired",
            customer_id=plan.customer_id,
            scheduled_for=plan.expires_at,
            entity_version=plan.term,
        )
        result = await send_now(request)
        self._calls.append(f"policy.expired: {result.status}")
        self._set_phase("expired", None)
        return True

    async def _apply_actions(self) -> None:
        while self._actions:
            await self._act(self._actions.pop(0))

    async def _act(self, action: PolicyAction) -> None:
        await _db(
            PolicyActivities.apply_policy_action,
            PolicyActionInput(**self._ref.model_dump(), action=action),
            action,
        )

    def _set_phase(self, phase: PolicyPhase, due: datetime | None) -> None:
        self._phase = phase
        due_at = attrs.DUE_AT.value_set(due) if due else attrs.DUE_AT.value_unset()
        workflow.upsert_search_attributes([attrs.STATUS.value_set(phase), due_at])

    # ------------------------------------------------------------------------------------------ signals
    @workflow.signal
    def refresh(self) -> None:
        """Re-read the policy and the business's call config (sent after any change through the API)."""
        self._woken = True

    @workflow.signal
    def cancel(self) -> None:
        self._actions.append("cancel")
        self._woken = True

    @workflow.signal
    def stop_calls(self) -> None:
        """No more calls this term; the policy still expires (or renews) as usual."""
        self._actions.append("stop_calls")
        self._woken = True

    @workflow.signal
    def call_now(self) -> None:
        """Call now instead of at the planned time (caps and the skip window still apply)."""
        self._actions.append("call_now")
        self._woken = True

    @workflow.signal
    def call_summary(self, summary: CallSummary) -> None:
        self._summaries[summary.call_id] = summary.renewal_agreed
        self._woken = True

    @workflow.query
    def state(self) -> PolicyView:
        plan = self._plan
        call = plan.next_call if plan else None
        return PolicyView(
            policy_id=self._ref.policy_id,
            phase=self._phase,
            term=plan.term if plan else 0,
            end_date=plan.end_date if plan else None,
            next_call_at=call.at if call and self._phase == "call_scheduled" else None,
            next_call_reason=call.reason if call and self._phase == "call_scheduled" else None,
            calls=list(self._calls),
        )
