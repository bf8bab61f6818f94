"""Record the workflow histories that tests/test_replay.py replays.

Not collected by default (no ``test_`` prefix). Run it when a workflow change is *meant* to be incompatible
with running workflows (guard the change with ``workflow.patched`` instead whenever possible):

    .venv/bin/python -m pytest tests/record_histories.py

Each scenario runs the real workflow on the v2 time-skipping server and writes tests/histories/<name>.json.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from db import notification_queries
from db.engine import SessionFactory
from domain.appointment_types import CancelInput, RescheduleInput, ReviewSubmittedInput, StepInput
from domain.notification_types import BroadcastInput, NotificationRequest, SendNotificationInput
from domain.task_queues import NOTIFICATIONS
from keeptime.settings import Settings
from tests.appointment_support import booked, eventually, until_next
from tests.factories import make_business, make_customer
from tests.peers import ProviderPeer, SmtpPeer
from tests.policy_support import make_insurer, make_policy, summarise_calls
from tests.support import running_worker
from tests.voice_agent_peer import VoiceAgentPeer
from workflows.appointment import AppointmentWorkflow
from workflows.broadcast import BroadcastWorkflow
from workflows.notification import NotificationWorkflow
from workflows.policy import PolicyWorkflow
from workflows.starts import start_policy_workflow

HISTORIES = Path(__file__).resolve().parent / "histories"


async def _save(handle: WorkflowHandle[Any, Any], name: str) -> None:
    await handle.result()
    history = await handle.fetch_history()
    (HISTORIES / f"{name}.json").write_text(history.to_json())


async def _happy_path(env: WorkflowEnvironment, sessions: SessionFactory) -> WorkflowHandle[Any, Any]:
    """Booked 30 h ahead: reminder, check-in, completed, review request, review submitted."""
    with env.with_time_skipping_disabled():
        *_, full = await booked(sessions, env.client, starts_in=timedelta(hours=30))
    await until_next(full, "reminder")
    await env.fast_forward(full, timedelta(hours=29, minutes=30))
    await until_next(full, "no_show_check")
    await full.execute_update(AppointmentWorkflow.check_in, StepInput())
    await env.fast_forward(full, timedelta(hours=5))
    await until_next(full, "review_reminder")
    await full.signal(AppointmentWorkflow.review_submitted, ReviewSubmittedInput(rating=5))
    await env.fast_forward(full, timedelta(days=8))
    return full


async def test_record_appointment_happy_path_v3(
    skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
) -> None:
    """The happy path on the current code: each plan's ``planned_at`` in its local activity's marker, the
    instant the wait after it is measured from (workflows.delivery.aim_from). appointment_happy_path_v2 is
    kept as it was recorded, after the load patches (plan-messages-locally,
    upsert-search-attributes-on-change) and before planned_at, so its paths stay replayed."""
    async with running_worker(skipping_env.client, sessions, provider_settings):
        await _save(await _happy_path(skipping_env, sessions), "appointment_happy_path_v3")


async def test_record_appointment_histories(
    skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
) -> None:
    env = skipping_env
    async with running_worker(env.client, sessions, provider_settings):
        await _save(await _happy_path(env, sessions), "appointment_happy_path")

        with env.with_time_skipping_disabled():
            *_, moved = await booked(sessions, env.client, starts_in=timedelta(days=2), status="pending")
        await until_next(moved, "expire")
        await moved.execute_update(AppointmentWorkflow.confirm, StepInput())
        view = await until_next(moved, "reminder")
        start = view.starts_at + timedelta(days=1)
        await moved.execute_update(
            AppointmentWorkflow.reschedule,
            RescheduleInput(starts_at=start, ends_at=start + timedelta(hours=1)),
        )
        await until_next(moved, "reminder")
        await moved.signal(AppointmentWorkflow.cancel, CancelInput(reason="recorded", by="test"))
        await _save(moved, "appointment_confirm_reschedule_cancel")

        *_, missed = await booked(sessions, env.client, starts_in=timedelta(hours=3), no_show_fee_cents=1000)
        await _save(missed, "appointment_late_booking_no_show")


async def test_record_notification_histories(
    skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
) -> None:
    env = skipping_env
    business = await make_business(sessions)
    customers = [
        await make_customer(sessions, business, name=f"C{n}", channel_order=["sms"]) for n in range(5)
    ]
    async with sessions() as session:
        broadcast = await notification_queries.create_broadcast(session, business.id, "News", "Hello", None)
    async with running_worker(env.client, sessions, provider_settings):
        single = await env.client.start_workflow(
            NotificationWorkflow.run,
            SendNotificationInput(
                request=NotificationRequest(
                    business_id=business.id,
                    entity_type="broadcast",
                    entity_id=broadcast.id,
                    event="broadcast.message",
                    customer_id=customers[0].id,
                )
            ),
            id=f"record-notification-{broadcast.id}",
            task_queue=NOTIFICATIONS,
        )
        await _save(single, "notification_single")
        batches = await env.client.start_workflow(
            BroadcastWorkflow.run,
            BroadcastInput(broadcast_id=broadcast.id, business_id=business.id, batch_size=2, rate_per_s=100),
            id=f"record-broadcast-{broadcast.id}",
            task_queue=NOTIFICATIONS,
        )
        await _save(batches, "broadcast_batches")


async def test_record_vaccination_history(
    skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
) -> None:
    from datetime import UTC, datetime

    from db.models import Pet
    from domain.ids import vaccination_workflow_id
    from services.vaccinations import register_vaccination

    business = await make_business(sessions)
    owner = await make_customer(sessions, business, channel_order=["sms"])
    async with sessions() as session:
        pet = Pet(business_id=business.id, owner_id=owner.id, name="Rex")
        session.add(pet)
        await session.commit()
    async with running_worker(skipping_env.client, sessions, provider_settings):
        record = await register_vaccination(
            sessions,
            skipping_env.client,
            business.id,
            {"pet_id": pet.id, "vaccine": "Rabies", "expires_at": datetime.now(UTC) + timedelta(days=40)},
        )
        await _save(
            skipping_env.client.get_workflow_handle(vaccination_workflow_id(record.id)),
            "vaccination_thresholds",
        )


async def test_record_policy_histories(
    skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
    voice_agent: VoiceAgentPeer,
) -> None:
    env = skipping_env
    insurer = await make_insurer(sessions)
    end = date.today() + timedelta(days=40)
    summarise_calls(voice_agent, sessions, env.client, insurer.business.id, agreed=True)
    async with running_worker(env.client, sessions, provider_settings):
        policy, latest = await make_policy(sessions, env.client, insurer, end, start=False)
        voice_agent.scripts[policy.id] = ["answered"]
        first = await start_policy_workflow(env.client, policy)
        await latest.result()
        renewal = env.client.get_workflow_handle(first.id, run_id=first.first_execution_run_id)
        (HISTORIES / "policy_renewal.json").write_text((await renewal.fetch_history()).to_json())
        await _save(latest, "policy_next_term_expiry")

        with env.with_time_skipping_disabled():
            _, steered = await make_policy(sessions, env.client, insurer, end + timedelta(days=30))
        await _policy_phase(steered, "call_scheduled")
        await steered.signal(PolicyWorkflow.call_now)
        await _policy_phase(steered, "call_scheduled", calls=1)
        await steered.signal(PolicyWorkflow.stop_calls)
        await _policy_phase(steered, "calls_done")
        await steered.signal(PolicyWorkflow.cancel)
        await _save(steered, "policy_call_now_stop_cancel")


async def _policy_phase(handle: WorkflowHandle[Any, Any], phase: str, calls: int = 0) -> None:
    async def check() -> bool:
        view = await handle.query(PolicyWorkflow.state)
        return bool(view.phase == phase and len([c for c in view.calls if "no_answer" in c]) >= calls)

    await eventually(check, what=phase)


async def test_record_settings_change_histories(
    skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
) -> None:
    """An appointment whose 24 h reminder went out before the business moved it to 48 h and 3 h (signal
    ``settings_changed``), and the rollout that told it."""
    from domain.ids import settings_rollout_workflow_id
    from services.settings import update_business

    env = skipping_env
    async with running_worker(env.client, sessions, provider_settings):
        with env.with_time_skipping_disabled():
            business, _, _, appointment = await booked(sessions, env.client, starts_in=timedelta(hours=20))
            await until_next(appointment, "reminder")  # the 24 h reminder went out late, the 2 h one is next
            automation = {**business.automation, "reminder_offsets_s": [48 * 3600, 3 * 3600]}
            _, rollout = await update_business(sessions, env.client, business.id, {"automation": automation})
            assert rollout is not None
            await _save(
                env.client.get_workflow_handle(settings_rollout_workflow_id(business.id, rollout.revision)),
                "settings_rollout",
            )
        await env.fast_forward(appointment, timedelta(days=2))
        await _save(appointment, "appointment_settings_change")


async def test_record_admin_digest_histories(
    skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
) -> None:
    """A business in digest mode: one digest sent, then the switch back to ``each`` through a rollout (which,
    since its patch, also ends the digest workflow)."""
    from domain.ids import admin_digest_workflow_id, settings_rollout_workflow_id
    from services.settings import business_created, update_business

    env = skipping_env
    automation: dict[str, Any] = {"admin_alerts": "daily_digest", "admin_digest_time": "18:00"}
    async with running_worker(env.client, sessions, provider_settings):
        with env.with_time_skipping_disabled():
            business, _, _, appointment = await booked(sessions, env.client, **automation)
            await business_created(env.client, business)
            digest = env.client.get_workflow_handle(admin_digest_workflow_id(business.id))
            await until_next(appointment, "reminder")
        await env.fast_forward(digest, timedelta(days=1))
        with env.with_time_skipping_disabled():
            change = {"automation": {**business.automation, "admin_alerts": "each"}}
            _, rollout = await update_business(sessions, env.client, business.id, change)
            assert rollout is not None
            await _save(
                env.client.get_workflow_handle(settings_rollout_workflow_id(business.id, rollout.revision)),
                "settings_rollout_with_digest",
            )
            await _save(digest, "admin_digest")


async def test_record_admin_digest_since_last_history(
    skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
) -> None:
    """Since ``digest-window-since-the-last-reported``: a digest, its window moved on, then the switch back
    to ``each`` with alerts held since (a final digest, the window closed)."""
    from datetime import UTC, datetime

    from db.models import Business
    from domain.ids import admin_digest_workflow_id
    from services.settings import business_created, update_business

    env = skipping_env
    automation: dict[str, Any] = {"admin_alerts": "daily_digest", "admin_digest_time": "18:00"}
    async with running_worker(env.client, sessions, provider_settings):
        with env.with_time_skipping_disabled():
            business, _, _, appointment = await booked(sessions, env.client, **automation)
            await business_created(env.client, business)
            digest = env.client.get_workflow_handle(admin_digest_workflow_id(business.id))
            await until_next(appointment, "reminder")
        await env.fast_forward(digest, timedelta(days=1))
        with env.with_time_skipping_disabled():
            async with sessions() as session:  # the skipped clock ran ahead of the rows' real time
                row = await session.get(Business, business.id)
                assert row is not None
                row.digest_since = datetime.now(UTC) - timedelta(minutes=10)
                await session.commit()
            change = {"automation": {**business.automation, "admin_alerts": "each"}}
            await update_business(sessions, env.client, business.id, change)
            await _save(digest, "admin_digest_since_last")


async def test_record_invoice_history(
    skipping_env: WorkflowEnvironment, sessions: SessionFactory, settings: Settings
) -> None:
    """An invoice due in three days: overdue, its ladder, a new due date while overdue, payment."""
    from datetime import UTC, datetime

    from services import invoices
    from tests.invoice_support import company, invoice, view

    business_id, _ = await company(sessions)
    today = datetime.now(UTC).date()
    async with running_worker(skipping_env.client, sessions, settings):
        row, handle = await invoice(sessions, skipping_env.client, business_id, today + timedelta(days=3))

        async def escalated() -> bool:
            return "30 days overdue: 2 notified" in (await view(handle)).history

        await eventually(escalated, what="the last escalation")
        await invoices.move_due_date(
            sessions, skipping_env.client, business_id, row.id, today + timedelta(days=1)
        )

        async def replanned() -> bool:  # the API's real clock says "not yet due": sent again, then the
            # workflow's virtual clock (a month on) makes it overdue at once and tells the latest escalation
            return (await view(handle)).history.count("30 days overdue: 2 notified") == 2

        await eventually(replanned, what="the new due date's timeline")
        await invoices.pay(sessions, skipping_env.client, business_id, row.id)
        await _save(handle, "invoice_ladder_moved_paid")


async def test_record_daily_plan_history(
    skipping_env: WorkflowEnvironment, sessions: SessionFactory, settings: Settings
) -> None:
    """A draft plan two days out: asleep until 17:00 local, still a draft, admins and PMs alerted."""
    from datetime import UTC, datetime

    from db import daily_plans
    from domain.ids import daily_plan_workflow_id
    from services.daily_plans import create_daily_plan
    from tests.invoice_support import company

    business_id, _ = await company(sessions)
    async with sessions() as session:
        project, _ = await daily_plans.add_project(session, business_id, {"name": "Site"}, key=None)
    async with running_worker(skipping_env.client, sessions, settings):
        day = datetime.now(UTC).date() + timedelta(days=2)
        plan, _ = await create_daily_plan(sessions, skipping_env.client, business_id, project.id, day)
        await _save(
            skipping_env.client.get_workflow_handle(daily_plan_workflow_id(plan.id)), "daily_plan_alerted"
        )


async def test_record_construction_settings_histories(
    skipping_env: WorkflowEnvironment, sessions: SessionFactory, settings: Settings
) -> None:
    """A construction company changes its escalation ladder and plan deadline: the rollout (since its patch)
    wakes an overdue invoice and a draft plan, which plan again; the invoice is paid, the plan alerted."""
    from datetime import UTC, datetime

    from db import daily_plans
    from domain.ids import daily_plan_workflow_id, settings_rollout_workflow_id
    from services import invoices
    from services.daily_plans import create_daily_plan
    from services.settings import update_business
    from tests.invoice_support import company, invoice, view

    env = skipping_env
    business_id, _ = await company(sessions)
    today = datetime.now(UTC).date()
    async with sessions() as session:
        project, _ = await daily_plans.add_project(session, business_id, {"name": "Site"}, key=None)
    async with running_worker(env.client, sessions, settings):
        with env.with_time_skipping_disabled():
            row, handle = await invoice(sessions, env.client, business_id, today - timedelta(days=2))
            plan, _ = await create_daily_plan(
                sessions, env.client, business_id, project.id, today + timedelta(days=2)
            )

            async def sleeping() -> bool:
                return (await view(handle)).next_action == "7 days overdue"

            await eventually(sleeping, what="the 7-day escalation planned")
            change = {"automation": {"invoice_escalation_days": [4, 10], "daily_plan_deadline": "12:00"}}
            _, rollout = await update_business(sessions, env.client, business_id, change)
            assert rollout is not None
            await _save(
                env.client.get_workflow_handle(settings_rollout_workflow_id(business_id, rollout.revision)),
                "settings_rollout_construction",
            )

            async def replanned() -> bool:
                return (await view(handle)).next_action == "4 days overdue"

            await eventually(replanned, what="the new ladder")
            await invoices.pay(sessions, env.client, business_id, row.id)
            await _save(handle, "invoice_settings_changed")
        plan_handle = env.client.get_workflow_handle(daily_plan_workflow_id(plan.id))
        await env.fast_forward(plan_handle, timedelta(days=3))
        await _save(plan_handle, "daily_plan_settings_changed")
