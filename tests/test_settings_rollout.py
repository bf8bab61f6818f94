"""Settings that reach sleeping appointments (issue 12, part 2), on the v2 time-skipping server: appointments
sleep at different stages, the business changes reminder offsets, grace, quiet hours and then attendance;
the preview says what will move, appear or disappear, the rollout wakes every workflow, and then each
workflow does exactly what the preview said: nothing already sent goes out again."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from db.appointments import appointment_snapshot
from db.engine import SessionFactory
from db.models import Appointment, Business, NotificationLog
from domain.appointment_types import AppointmentView
from domain.automation import AutomationSettings
from domain.notification_types import NotificationRequest
from domain.statuses import Channel, NotificationStatus
from keeptime.settings import Settings
from services.settings import rollout_progress, update_business
from services.settings_preview import AppointmentPreview, SettingsPreview, forecasts_after, preview_settings
from tests.appointment_support import NO_QUIET_HOURS, eventually, state, until_next
from tests.factories import make_appointment, make_business, make_customer
from tests.peers import ProviderPeer, SmtpPeer
from tests.support import running_worker
from workflows.starts import ensure_workflow

ZONE = ZoneInfo("Europe/Berlin")
BEFORE = AutomationSettings(quiet_hours=NO_QUIET_HOURS)  # reminders 24 h and 2 h, grace 15 min, check-in


async def _book(
    sessions: SessionFactory,
    client: Any,
    business: Business,
    starts_in: timedelta,
    *,
    status: str = "confirmed",
    preferences: dict[str, bool] | None = None,
    **row: Any,
) -> WorkflowHandle[Any, Any]:
    customer = await make_customer(sessions, business, channel_order=["email"], preferences=preferences or {})
    starts_at = datetime.now(UTC).replace(microsecond=0) + starts_in
    appointment = await make_appointment(
        sessions,
        business,
        customer,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=1),
        status=status,
        **row,
    )
    async with sessions() as session:
        found = await session.get(Appointment, appointment.id)
        assert found is not None
        return await ensure_workflow(client, await appointment_snapshot(session, found))


def _quiet_around(instant: datetime) -> dict[str, str]:
    """Quiet hours from the hour before ``instant`` (local) to the hour after: a reminder then must move."""
    hour = instant.astimezone(ZONE).hour
    return {"start": time((hour - 1) % 24).isoformat(), "end": time((hour + 1) % 24).isoformat()}


async def _apply(
    sessions: SessionFactory, env: WorkflowEnvironment, business: Business, automation: dict[str, Any]
) -> SettingsPreview:
    new = AutomationSettings.model_validate(automation)
    preview = await preview_settings(sessions, business.id, new, business.time_zone, datetime.now(UTC))
    _, rollout = await update_business(
        sessions, env.client, business.id, {"automation": new.model_dump(mode="json")}
    )
    assert rollout is not None

    async def finished() -> bool:
        progress = await rollout_progress(env.client, business.id, rollout.revision)
        return progress is not None and progress.finished

    await eventually(finished, what=f"the rollout of revision {rollout.revision}")
    return preview


def _sample(preview: SettingsPreview, handle: WorkflowHandle[Any, Any]) -> AppointmentPreview | None:
    return next((s for s in preview.sample if f"appointment-{s.appointment_id}" == handle.id), None)


def _happened(view: AppointmentView, label: str) -> list[tuple[str, datetime]]:
    """(status or reason, when) of the workflow's messages for a step label such as '48h reminder'."""
    event = f"appointment.reminder_{label.split()[0]}" if label.endswith("reminder") else ""
    return [(m.reason or m.status, m.at) for m in view.messages if m.event == event]


def _assert_as_previewed(view: AppointmentView, sample: AppointmentPreview) -> None:
    for change in sample.changes:
        if not change.step.endswith(" reminder") or change.step.startswith("review"):
            continue
        happened = _happened(view, change.step)
        if change.change == "disappears":
            assert happened == [], f"{change.step} disappeared in the preview but happened: {happened}"
            continue
        assert change.after is not None and change.outcome_after is not None
        assert len(happened) == 1, f"{change.step}: {happened}"
        outcome, at = happened[0]
        expected = "sent" if change.outcome_after == "send" else change.outcome_after.removeprefix("skip: ")
        assert outcome == expected, (change.step, outcome, change.outcome_after)
        if change.outcome_after == "send":  # at the previewed local time (the virtual clock, to the minute)
            assert abs(at - datetime.fromisoformat(change.after)) < timedelta(minutes=1), (change, at)


async def test_a_settings_change_reaches_sleeping_appointments_as_previewed(
    skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
) -> None:
    env = skipping_env
    business = await make_business(sessions, automation=BEFORE.model_dump(mode="json"))
    async with running_worker(env.client, sessions, provider_settings):
        with env.with_time_skipping_disabled():
            early = await _book(sessions, env.client, business, timedelta(days=3))  # nothing sent yet
            reminded = await _book(sessions, env.client, business, timedelta(hours=20))  # 24 h sent (late)
            soon = await _book(sessions, env.client, business, timedelta(minutes=50))  # reminders skipped
            pending = await _book(sessions, env.client, business, timedelta(days=2), status="pending")
        await until_next(early, "reminder")
        await until_next(reminded, "reminder")
        await until_next(soon, "no_show_check")
        await until_next(pending, "expire")
        assert [m.event for m in (await state(reminded)).messages if m.status == "sent"][-1:] == [
            "appointment.reminder_24h"
        ]
        starts = (await state(early)).starts_at
        change = {
            "reminder_offsets_s": [48 * 3600, 24 * 3600, 3 * 3600],
            "no_show_grace_s": 30 * 60,
            "quiet_hours": _quiet_around(starts - timedelta(hours=24)),  # the planned 24 h one must move
        }
        preview = await _apply(sessions, env, business, change)
        assert (preview.appointments_checked, preview.appointments_changed) == (4, 3)  # pending: no change
        samples = {h.id: _sample(preview, h) for h in (early, reminded, soon, pending)}
        assert samples[pending.id] is None
        early_steps = {c.step: c for c in samples[early.id].changes}  # type: ignore[union-attr]
        assert (early_steps["24h reminder"].change, early_steps["2h reminder"].change) == (
            "moves",
            "disappears",
        )
        assert early_steps["48h reminder"].outcome_after == "send"
        reminded_steps = {c.step: c.outcome_after for c in samples[reminded.id].changes}  # type: ignore[union-attr]
        assert reminded_steps["48h reminder"] == "skip: already_reminded"
        assert {c.step: c.change for c in samples[soon.id].changes} == {  # type: ignore[union-attr]
            "48h reminder": "appears",
            "3h reminder": "appears",
            "no-show check": "moves",
        }

        # Attendance changes for the appointment still sleeping towards its no-show check.
        await until_next(soon, "no_show_check")
        attended = await _apply(sessions, env, business, {**change, "attendance": "assume_attended"})
        soon_steps = {c.step: c.change for c in _sample(attended, soon).changes}  # type: ignore[union-attr]
        assert soon_steps["no-show check"] == "disappears"
        assert soon_steps["auto-complete (attended)"] == "appears"

        for handle in (early, reminded, soon):
            await env.fast_forward(handle, timedelta(days=3, hours=2))
        views = {h.id: await state(h) for h in (early, reminded, soon)}
    for handle in (early, reminded, soon):
        sample = samples[handle.id]
        assert sample is not None
        _assert_as_previewed(views[handle.id], sample)
    moved = [m.at for m in views[early.id].messages if m.event == "appointment.reminder_24h"]
    assert len(moved) == 1 and moved[0] != starts - timedelta(hours=24)  # out of the new quiet hours
    sent_24h = [m for m in views[reminded.id].messages if m.event == "appointment.reminder_24h"]
    assert [m.status for m in sent_24h] == ["sent"]  # once, before the change; never again
    assert views[soon.id].status == "completed"  # attended, not a no-show
    assert all(m.event != "appointment.no_show" for m in views[soon.id].messages)


async def test_every_step_kind_happens_as_the_preview_planned_it(
    skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
) -> None:
    """Issue 32, defect 3: the preview's planner (the one the preview shows) against the real workflows,
    step for step and for every kind: reminders sent, moved by quiet hours or skipped by the customer's
    preferences, the no-show check, the auto-complete of a checked-in visit, review requests and
    reminders; label, outcome and instant (to the minute) of every step to come."""
    env = skipping_env
    business = await make_business(sessions, automation=BEFORE.model_dump(mode="json"))
    now = datetime.now(UTC).replace(microsecond=0)
    async with running_worker(env.client, sessions, provider_settings):
        with env.with_time_skipping_disabled():
            handles = {
                "confirmed": await _book(sessions, env.client, business, timedelta(days=3)),
                "no reminders": await _book(
                    sessions, env.client, business, timedelta(days=3), preferences={"reminders": False}
                ),
                "checked in": await _book(
                    sessions, env.client, business, -timedelta(minutes=10), status="checked_in"
                ),
                "completed": await _book(
                    sessions,
                    env.client,
                    business,
                    -timedelta(hours=2),
                    status="completed",
                    completed_at=now - timedelta(minutes=30),
                ),
                "no review requests": await _book(
                    sessions,
                    env.client,
                    business,
                    -timedelta(hours=2),
                    status="completed",
                    completed_at=now - timedelta(minutes=30),
                    preferences={"review_requests": False},
                ),
            }
        for name, kind in (
            ("confirmed", "reminder"),
            ("no reminders", "reminder"),
            ("checked in", "auto_complete"),
            ("completed", "review_request"),
            ("no review requests", "review_request"),
        ):
            await until_next(handles[name], kind)
        starts = (await state(handles["confirmed"])).starts_at
        new = AutomationSettings.model_validate(
            {
                "reminder_offsets_s": [48 * 3600, 24 * 3600, 6 * 3600],
                "no_show_grace_s": 30 * 60,
                "auto_complete_delay_s": 80 * 60,
                "review_request_delay_s": 3 * 3600,
                "review_reminder_delay_s": 2 * 86400,
                "quiet_hours": _quiet_around(starts - timedelta(hours=24)),
            }
        )
        changed_at = datetime.now(UTC)
        planned = await forecasts_after(sessions, business.id, new, business.time_zone, changed_at)
        await _apply(sessions, env, business, new.model_dump(mode="json"))
        for handle in handles.values():
            await env.fast_forward(handle, timedelta(days=4))
        for handle in handles.values():  # the last steps may still be running when the clock has moved

            async def all_taken(handle: WorkflowHandle[Any, Any] = handle) -> bool:
                view = await state(handle)
                taken = [s for s in view.steps if s.at >= changed_at]
                return len(taken) >= len(planned[view.appointment_id])

            await eventually(all_taken, what=f"every step planned for {handle.id}")
        views = {name: await state(handle) for name, handle in handles.items()}
    kinds = set()
    for name, view in views.items():
        expected = planned[view.appointment_id]
        taken = [s for s in view.steps if s.at >= changed_at]
        assert [(s.label, s.outcome) for s in taken] == [(p.label, p.outcome) for p in expected], name
        for step, plan in zip(taken, expected, strict=True):
            assert abs(step.at - plan.at) < timedelta(minutes=1), (name, step, plan)
        kinds |= {(s.kind, s.outcome.split(":")[0]) for s in taken}
    assert kinds >= {  # the cases above cover every kind, sent and skipped
        ("reminder", "send"),
        ("reminder", "skip"),
        ("no_show_check", "no_show"),
        ("auto_complete", "completed"),
        ("review_request", "send"),
        ("review_request", "skip"),
        ("review_reminder", "send"),
        ("review_reminder", "skip"),
    }, kinds
    moved = next(p for p in planned[views["confirmed"].appointment_id] if p.label == "24h reminder")
    assert moved.at != starts - timedelta(hours=24)  # out of the new quiet hours: the move is compared too


async def test_a_slot_reminded_before_a_reschedule_and_back_is_skipped_by_preview_and_workflow(
    skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
) -> None:
    """Issue 32, defect 3: the log has the 24 h reminder of this slot as sent under version 1; the row, moved
    away and back, is at version 3. The preview says it is skipped, and a workflow started from the row
    (the reconciler's case: it has no memory of version 1) skips it too, instead of sending it again."""
    env = skipping_env
    business = await make_business(sessions, automation=BEFORE.model_dump(mode="json"))
    customer = await make_customer(sessions, business, channel_order=["email"])
    starts_at = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=20)
    appointment = await make_appointment(
        sessions, business, customer, starts_at=starts_at, ends_at=starts_at + timedelta(hours=1), version=3
    )
    first = NotificationRequest(
        business_id=business.id,
        entity_type="appointment",
        entity_id=appointment.id,
        event="appointment.reminder",
        variant="24h",
        customer_id=customer.id,
        scheduled_for=starts_at - timedelta(hours=24),
        entity_version=1,
    )
    async with sessions() as session:
        session.add(
            NotificationLog(
                idempotency_key=first.idempotency_key("email"),
                message_key=first.message_key(),
                business_id=business.id,
                customer_id=customer.id,
                entity_type="appointment",
                entity_id=appointment.id,
                event=first.event_name,
                channel=Channel.EMAIL,
                recipient=first.recipient,
                scheduled_for=first.scheduled_for,
                status=NotificationStatus.SENT,
                sent_at=starts_at - timedelta(hours=24),
            )
        )
        await session.commit()
    now = datetime.now(UTC)
    planned = (await forecasts_after(sessions, business.id, BEFORE, business.time_zone, now))[appointment.id]
    assert [(p.label, p.outcome) for p in planned][:2] == [
        ("24h reminder", "skip: already_sent_for_this_slot"),
        ("2h reminder", "send"),
    ]
    async with running_worker(env.client, sessions, provider_settings):
        async with sessions() as session:
            row = await session.get(Appointment, appointment.id)
            assert row is not None
            handle = await ensure_workflow(env.client, await appointment_snapshot(session, row))
        await until_next(handle, "reminder")
        await env.fast_forward(handle, timedelta(days=1))

        async def all_taken() -> bool:
            return len((await state(handle)).steps) >= len(planned)

        await eventually(all_taken, what="every step planned")
        view = await state(handle)
    assert [(s.label, s.outcome) for s in view.steps] == [(p.label, p.outcome) for p in planned]
    assert [m.reason for m in view.messages if m.event == "appointment.reminder_24h"] == [
        "already_sent_for_this_slot"
    ]
