"""What an appointment's timeline will do from now on, if nobody steers it: the settings preview's planner.

It runs ``next_step`` forward (pure, like the workflow) so a preview and the workflow cannot disagree:
each step is taken at its instant, status steps change the status as the workflow would, and messages go
through ``deliver_at`` (quiet hours in the recipient's zone) exactly as the workflow's planning activity does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from domain.appointment_timeline import Step, next_step
from domain.appointment_types import AppointmentState

MESSAGE_STEPS = ("reminder", "review_request", "review_reminder")
STATUS_AFTER = {"expire": "cancelled", "no_show_check": "no_show", "auto_complete": "completed"}
MAX_STEPS = 40

DeliverAt = Callable[[Step, datetime], datetime | None]  # (step, now) -> delivery instant or None: skipped


@dataclass(frozen=True)
class PlannedStep:
    label: str  # "24h reminder", "no-show check": the same step under any settings
    kind: str
    at: datetime
    outcome: str  # "send", "skip: <reason>", or the status it leads to


def forecast(
    state: AppointmentState, now: datetime, deliver_at: DeliverAt | None = None
) -> list[PlannedStep]:
    """Every step still to come, in order, with when it happens and what it does."""
    state = state.model_copy(deep=True)
    clock = now
    planned: list[PlannedStep] = []
    while len(planned) < MAX_STEPS and (step := next_step(state, clock)) is not None:
        state.handled.append(step.key)
        at = max(step.at, clock)
        if step.kind == "skip_reminder":
            planned.append(PlannedStep(step.label, "reminder", at, f"skip: {step.reason}"))
        elif step.kind in MESSAGE_STEPS:
            delivery = deliver_at(step, clock) if deliver_at else at
            if delivery is None:
                planned.append(PlannedStep(step.label, step.kind, at, "skip: quiet_hours"))
            else:
                at = max(delivery, clock)  # a time already past goes out at once, as the workflow sends it
                planned.append(PlannedStep(step.label, step.kind, at, "send"))
            if step.kind == "review_request":
                state.review_requested_at = at
        else:
            status = STATUS_AFTER[step.kind]
            planned.append(PlannedStep(step.label, step.kind, at, status))
            changes: dict[str, object] = {"status": status}
            if status == "completed":
                changes["completed_at"] = at
            state.snapshot = state.snapshot.model_copy(update=changes)
        clock = at
    return planned


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
