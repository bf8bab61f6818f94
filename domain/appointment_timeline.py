"""The appointment's timeline as a pure function: given what happened and the time, what comes next.

Deterministic (no I/O, no clock of its own): the workflow calls it with ``workflow.now()``; tests call it
with any instant. Reminders each have a *useful window*: from their instant until halfway to the next
reminder (or to the cut-off before start). Inside it a reminder is sent, even late (booked late, worker
down); past it, it is skipped: ``superseded`` when a later reminder is still to come, else ``too_late``.
So a booking 3 h before start gets the 2 h reminder and never a "24 h reminder" 20 minutes before.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from domain.appointment_types import AppointmentSnapshot, AppointmentState
from domain.notification_types import NotificationRequest

StepKind = Literal[
    "reminder",
    "skip_reminder",
    "expire",
    "no_show_check",
    "auto_complete",
    "review_request",
    "review_reminder",
]


MESSAGE_KINDS: tuple[StepKind, ...] = ("reminder", "skip_reminder", "review_request", "review_reminder")
REVIEW_KINDS: tuple[StepKind, ...] = ("review_request", "review_reminder")
STATUS_AFTER = {"expire": "cancelled", "no_show_check": "no_show", "auto_complete": "completed"}


@dataclass(frozen=True)
class Step:
    key: str
    kind: StepKind
    at: datetime
    label: str
    offset_s: int | None = None
    reason: str | None = None


@dataclass(frozen=True)
class ReminderWindow:
    offset_s: int
    instant: datetime
    useful_until: datetime


def offset_label(seconds: int) -> str:
    """``86400`` -> ``24h``, ``5400`` -> ``90m``, ``45`` -> ``45s``: the reminder's name in the log."""
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"{seconds // 60}m"
    return f"{seconds}s"


def reminder_windows(snapshot: AppointmentSnapshot) -> list[ReminderWindow]:
    settings = snapshot.automation
    cutoff = snapshot.starts_at - timedelta(seconds=settings.reminder_cutoff_s)
    offsets = sorted(settings.reminder_offsets_s, reverse=True)
    windows = []
    for index, offset in enumerate(offsets):
        following = offsets[index + 1] if index + 1 < len(offsets) else settings.reminder_cutoff_s
        instant = snapshot.starts_at - timedelta(seconds=offset)
        useful_until = min(instant + timedelta(seconds=(offset - following) / 2), cutoff)
        windows.append(ReminderWindow(offset, instant, useful_until))
    return windows


def auto_complete_at(snapshot: AppointmentSnapshot) -> datetime:
    """Never before the appointment ends, and at least the business's delay after its start."""
    return max(
        snapshot.ends_at, snapshot.starts_at + timedelta(seconds=snapshot.automation.auto_complete_delay_s)
    )


def next_step(state: AppointmentState, now: datetime) -> Step | None:
    """The earliest step not yet handled, or None when the appointment's automation is over."""
    snapshot = state.snapshot
    settings = snapshot.automation
    version = snapshot.version
    candidates: list[Step] = []
    if snapshot.status == "pending":
        candidates.append(
            Step(f"expire:v{version}", "expire", snapshot.starts_at, "expire if still unconfirmed")
        )
    elif snapshot.status == "confirmed":
        candidates.extend(_reminder_steps(state, now))
        no_show_at = snapshot.starts_at + timedelta(seconds=settings.no_show_grace_s)
        if settings.attendance == "assume_attended":  # nobody checks in at a restaurant: guests came
            completes_at = snapshot.starts_at + timedelta(seconds=settings.auto_complete_delay_s)
            candidates.append(
                Step(f"auto_complete:v{version}", "auto_complete", completes_at, "auto-complete (attended)")
            )
        else:
            candidates.append(Step(f"no_show_check:v{version}", "no_show_check", no_show_at, "no-show check"))
    elif snapshot.status == "checked_in":
        candidates.append(
            Step(f"auto_complete:v{version}", "auto_complete", auto_complete_at(snapshot), "auto-complete")
        )
    elif snapshot.status == "completed" and not snapshot.reviewed:
        completed_at = snapshot.completed_at or now
        if "review_request" not in state.handled:
            at = completed_at + timedelta(seconds=settings.review_request_delay_s)
            candidates.append(Step("review_request", "review_request", at, "review request"))
        elif "review_reminder" not in state.handled and state.review_requested_at is not None:
            at = state.review_requested_at + timedelta(seconds=settings.review_reminder_delay_s)
            candidates.append(Step("review_reminder", "review_reminder", at, "review reminder"))
    pending = [step for step in candidates if step.key not in state.handled]
    return min(pending, key=lambda step: (step.at, step.key)) if pending else None


def reminder_key(offset_s: int, version: int) -> str:
    return f"reminder:{offset_s}:v{version}"


def redundant_reminders(state: AppointmentState) -> list[str]:
    """After a settings change: the new reminder steps whose instant is not after a reminder this slot has
    had already (24 h sent, then 24 h -> 48 h: the customer was reminded; no "48 h reminder" now)."""
    snapshot = state.snapshot
    sent_at = state.last_reminder_at.get(f"v{snapshot.version}")
    if sent_at is None:
        return []
    return [
        key
        for window in reminder_windows(snapshot)
        if (key := reminder_key(window.offset_s, snapshot.version)) not in state.handled
        and window.instant <= sent_at
    ]


def _reminder_steps(state: AppointmentState, now: datetime) -> list[Step]:
    snapshot = state.snapshot
    windows = reminder_windows(snapshot)
    steps = []
    for index, window in enumerate(windows):
        key = reminder_key(window.offset_s, snapshot.version)
        label = f"{offset_label(window.offset_s)} reminder"
        if key in state.handled:
            continue
        if key in state.already_reminded:
            steps.append(
                Step(key, "skip_reminder", window.instant, label, window.offset_s, "already_reminded")
            )
        elif now > window.useful_until:
            later_still_useful = any(now <= w.useful_until for w in windows[index + 1 :])
            reason = "superseded" if later_still_useful else "too_late"
            steps.append(Step(key, "skip_reminder", window.instant, label, window.offset_s, reason))
        else:
            steps.append(Step(key, "reminder", window.instant, label, window.offset_s))
    return steps


def message_request(snapshot: AppointmentSnapshot, step: Step) -> NotificationRequest:
    """The notification a message step sends (the workflow, and the settings preview, build it here)."""
    cutoff = timedelta(seconds=snapshot.automation.reminder_cutoff_s)
    is_reminder = step.kind in ("reminder", "skip_reminder")
    return NotificationRequest(
        business_id=snapshot.business_id,
        entity_type="appointment",
        entity_id=snapshot.appointment_id,
        event="appointment.reminder" if is_reminder else f"appointment.{step.kind}",
        variant=offset_label(step.offset_s) if is_reminder and step.offset_s else None,
        customer_id=snapshot.customer_id,
        scheduled_for=step.at
        if not is_reminder
        else snapshot.starts_at - timedelta(seconds=step.offset_s or 0),
        entity_version=snapshot.version if is_reminder else None,
        deadline=snapshot.starts_at - cutoff if is_reminder else None,
    )


def slot_of(snapshot: AppointmentSnapshot, step: Step) -> str:
    """A reminder step's slot (``slot_key``)."""
    return slot_key(step.offset_s, snapshot.starts_at)


def slot_key(offset_s: int | None, starts_at: datetime) -> str:
    """A reminder's slot, ``<offset>@<starts_at>``: one reminder per offset and start time, ever."""
    return f"{offset_s}@{starts_at.isoformat()}"


def skip_reason(state: AppointmentState, step: Step) -> str | None:
    """Why a message step is recorded as skipped instead of sent, as far as the workflow's state tells
    (the workflow and the settings preview both ask here); None: it is sent. The send itself may still skip
    it (the customer turned the category off: ``preference: <category>``)."""
    if step.kind == "skip_reminder":
        return step.reason or "skipped"
    if step.kind in REVIEW_KINDS and state.snapshot.reviewed:
        return "already_reviewed"
    slot = slot_of(state.snapshot, step)
    if step.kind == "reminder" and (slot in state.sent_slots or slot in state.snapshot.sent_slots):
        return "already_sent_for_this_slot"  # rescheduled away and back
    return None


def replan(state: AppointmentState) -> None:
    """After the workflow adopted new settings (the workflow, and the preview's "after"): quiet-hours plans
    are made again, and a reminder the change adds before one already sent is skipped."""
    state.planned.clear()
    state.already_reminded.extend(redundant_reminders(state))


def label_offset(label: str) -> int | None:
    """``24h`` -> 86400 (the inverse of ``offset_label``); None for anything it never wrote."""
    unit = {"h": 3600, "m": 60, "s": 1}.get(label[-1:])
    return int(label[:-1]) * unit if unit and label[:-1].isdigit() else None
