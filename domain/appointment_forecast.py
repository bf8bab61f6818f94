"""What an appointment's timeline will do from now on, if nobody steers it: the settings preview's planner.

It runs ``next_step`` forward (pure, like the workflow) so a preview and the workflow cannot disagree:
each step is taken at its instant, status steps change the status as the workflow would, and messages go
through ``deliver_at`` (quiet hours in the recipient's zone) exactly as the workflow's planning activity does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from domain.appointment_timeline import (
    MESSAGE_KINDS,
    STATUS_AFTER,
    Step,
    message_request,
    next_step,
    skip_reason,
)
from domain.appointment_types import AppointmentState
from domain.notification_events import event_spec
from domain.preferences import Preferences

MAX_STEPS = 40

DeliverAt = Callable[[Step, datetime], datetime | None]  # (step, now) -> delivery instant or None: skipped


@dataclass(frozen=True)
class PlannedStep:
    label: str  # "24h reminder", "no-show check": the same step under any settings
    kind: str
    at: datetime
    outcome: str  # "send", "skip: <reason>", or the status it leads to


def forecast(
    state: AppointmentState,
    now: datetime,
    deliver_at: DeliverAt | None = None,
    preferences: Preferences | None = None,
) -> list[PlannedStep]:
    """Every step still to come, in order, with when it happens and what it does: the workflow's loop, step
    for step (``AppointmentWorkflow.run``, ``_wait_for``, ``_message_step``, ``_status_step``), with the same
    rules (``next_step``, ``skip_reason``, ``deliver_at`` for quiet hours, the customer's preferences as the
    send applies them). What the workflow then does is in its view's ``steps``, in the same shape."""
    state = state.model_copy(deep=True)
    clock = now
    planned: list[PlannedStep] = []
    while len(planned) < MAX_STEPS and (step := next_step(state, clock)) is not None:
        state.handled.append(step.key)
        kind = "reminder" if step.kind == "skip_reminder" else step.kind
        at = max(step.at, clock)
        if step.kind not in MESSAGE_KINDS:
            status = STATUS_AFTER[step.kind]
            planned.append(PlannedStep(step.label, kind, at, status))
            changes: dict[str, object] = {"status": status}
            if status == "completed":
                changes["completed_at"] = at
            state.snapshot = state.snapshot.model_copy(update=changes)
            clock = at
            continue
        outcome = "send"
        if step.kind != "skip_reminder" and deliver_at is not None:
            # planned as soon as the step is next, so a skip for quiet hours is taken then, not at its time
            delivery = deliver_at(step, clock)
            at = clock if delivery is None else max(delivery, clock)
            outcome = "skip: quiet_hours" if delivery is None else outcome
        if outcome == "send":
            reason = skip_reason(state, step) or _preference_skip(state, step, preferences)
            outcome = f"skip: {reason}" if reason else outcome
        if step.kind == "review_request" and outcome != "skip: quiet_hours":
            state.review_requested_at = at  # as the workflow's message step sets it (a quiet skip does not)
        planned.append(PlannedStep(step.label, kind, at, outcome))
        clock = at
    return planned


def _preference_skip(state: AppointmentState, step: Step, preferences: Preferences | None) -> str | None:
    """The send's rule (``activities.notification_context``): a category the customer turned off."""
    category = event_spec(message_request(state.snapshot, step).event).category
    if preferences is None or preferences.allows(category):
        return None
    return f"preference: {category}"


@dataclass(frozen=True)
class StepChange:
    label: str
    change: str  # "moves", "appears", "disappears", "changes" (same time, other outcome)
    before: PlannedStep | None
    after: PlannedStep | None


def compare(before: list[PlannedStep], after: list[PlannedStep]) -> list[StepChange]:
    """How the steps to come differ between two forecasts, matched by label, in the order they happen."""
    old = {step.label: step for step in before}
    new = {step.label: step for step in after}
    changes = []
    for label in sorted(old.keys() | new.keys(), key=lambda k: (new.get(k) or old[k]).at):
        was, will = old.get(label), new.get(label)
        if was is None:
            changes.append(StepChange(label, "appears", None, will))
        elif will is None:
            changes.append(StepChange(label, "disappears", was, None))
        elif was.at != will.at:
            changes.append(StepChange(label, "moves", was, will))
        elif was.outcome != will.outcome:
            changes.append(StepChange(label, "changes", was, will))
    return changes
