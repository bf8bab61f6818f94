"""``POST /v1/businesses/me/automation/preview``: what a settings change would do to sleeping appointments.

Both forecasts come from the workflow's own planner (``domain.appointment_forecast``) over each appointment's
state as PostgreSQL shows it (the steps its notification log has handled), with quiet hours applied in the
recipient's zone as the planning activity applies them. Applying the change then does what this said, as
of the instant of the preview (a reminder due in between goes out under the old settings).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from db.appointment_plans import SleepingAppointment, sleeping_appointments
from db.engine import SessionFactory
from db.models import Business
from domain.appointment_forecast import DeliverAt, PlannedStep, StepChange, compare, forecast
from domain.appointment_timeline import Step, message_request, replan
from domain.appointment_types import AppointmentState
from domain.automation import AutomationSettings
from domain.notification_events import delivery_instant

MAX_CHECKED = 10_000
SAMPLE = 20


class StepChangeOut(BaseModel):
    step: str = Field(description="e.g. '24h reminder', 'no-show check'")
    change: str = Field(description="moves | appears | disappears | changes (same time, other outcome)")
    before: str | None = Field(description="local time (recipient's zone) under the current settings")
    after: str | None = Field(description="local time under the new settings")
    outcome_before: str | None = Field(description="send, skip: <reason>, or the status it leads to")
    outcome_after: str | None


class AppointmentPreview(BaseModel):
    appointment_id: int
    status: str
    starts_at: str = Field(description="local time, recipient's zone")
    time_zone: str
    changes: list[StepChangeOut]


class SettingsPreview(BaseModel):
    appointments_checked: int
    appointments_changed: int
    truncated: bool = Field(
        description=f"more than {MAX_CHECKED} sleeping appointments: the first are checked"
    )
    sample: list[AppointmentPreview] = Field(
        description=f"up to {SAMPLE} changed appointments, soonest first"
    )


async def preview_settings(
    sessions: SessionFactory, business_id: int, new: AutomationSettings, new_zone: str, now: datetime
) -> SettingsPreview:
    async with sessions() as session:
        business = await session.get(Business, business_id)
        assert business is not None
        rows = await sleeping_appointments(session, business, MAX_CHECKED + 1)
    changed: list[tuple[SleepingAppointment, list[StepChange]]] = []
    for row in rows[:MAX_CHECKED]:
        changes = compare(
            _forecast(row, row.state, now), _forecast(row, _with(row.state, new, new_zone), now)
        )
        if changes:
            changed.append((row, changes))
    changed.sort(key=lambda pair: pair[0].state.snapshot.starts_at)
    return SettingsPreview(
        appointments_checked=min(len(rows), MAX_CHECKED),
        appointments_changed=len(changed),
        truncated=len(rows) > MAX_CHECKED,
        sample=[_out(row, changes) for row, changes in changed[:SAMPLE]],
    )


async def forecasts_after(
    sessions: SessionFactory, business_id: int, new: AutomationSettings, new_zone: str, now: datetime
) -> dict[int, list[PlannedStep]]:
    """Appointment id -> every step still to come under the new settings, as the preview plans it: what
    each workflow's view then lists in ``steps`` (tests/test_settings_rollout.py compares them)."""
    async with sessions() as session:
        business = await session.get(Business, business_id)
        assert business is not None
        rows = await sleeping_appointments(session, business, MAX_CHECKED)
    return {
        row.state.snapshot.appointment_id: _forecast(row, _with(row.state, new, new_zone), now)
        for row in rows
    }


def _with(state: AppointmentState, new: AutomationSettings, zone: str) -> AppointmentState:
    """The state as the workflow has it after reading the new settings (``_read_settings``)."""
    snapshot = state.snapshot.model_copy(
        update={"automation": new, "time_zone": zone, "invalid_settings": []}
    )
    after = state.model_copy(update={"snapshot": snapshot}, deep=True)
    replan(after)  # what the workflow does after the load (``_read_settings``)
    return after


def _forecast(row: SleepingAppointment, state: AppointmentState, now: datetime) -> list[PlannedStep]:
    return forecast(state, now, _quiet_hours(row, state), row.preferences)


def _quiet_hours(row: SleepingAppointment, state: AppointmentState) -> DeliverAt:
    """The planning activity's rule (``plan_notification``): quiet hours in the recipient's zone."""
    snapshot = state.snapshot
    settings = snapshot.automation
    zone = ZoneInfo(row.customer_zone or snapshot.time_zone)

    def deliver_at(step: Step, now: datetime) -> datetime | None:
        request = message_request(snapshot, step)
        return delivery_instant(request, step.at, now=now, zone=zone, quiet=settings.quiet_hours)

    return deliver_at


def _out(row: SleepingAppointment, changes: list[StepChange]) -> AppointmentPreview:
    zone = ZoneInfo(row.recipient_zone)
    snapshot = row.state.snapshot

    def local(step: PlannedStep | None) -> str | None:
        return step.at.astimezone(zone).isoformat() if step else None

    return AppointmentPreview(
        appointment_id=snapshot.appointment_id,
        status=snapshot.status,
        starts_at=snapshot.starts_at.astimezone(zone).isoformat(),
        time_zone=row.recipient_zone,
        changes=[
            StepChangeOut(
                step=change.label,
                change=change.change,
                before=local(change.before),
                after=local(change.after),
                outcome_before=change.before.outcome if change.before else None,
                outcome_after=change.after.outcome if change.after else None,
            )
            for change in changes
        ],
    )
