"""VaccinationWorkflow on the v2 time-skipping server with the real activities, PostgreSQL and SMS peer."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from db import pets, tenants
from db.engine import SessionFactory
from db.models import NotificationLog, Pet, Vaccination
from domain.expiry import expiry_moments
from domain.ids import vaccination_workflow_id
from domain.rollout_types import SettingsChanged
from domain.task_queues import MAINTENANCE
from domain.vaccination_types import VaccinationInput, VaccinationView
from keeptime.settings import Settings
from services.settings import update_business
from services.vaccinations import register_vaccination
from tests.appointment_support import eventually
from tests.factories import make_business, make_customer
from tests.peers import ProviderPeer, SmtpPeer
from tests.support import began_new_run, running_worker
from workflows.vaccination import VaccinationWorkflow


async def _pet(sessions: SessionFactory, **owner: Any) -> tuple[int, int]:
    business = await make_business(sessions, time_zone="Europe/Berlin")
    customer = await make_customer(sessions, business, **{"channel_order": ["sms", "email"], **owner})
    async with sessions() as session:
        pet = Pet(business_id=business.id, owner_id=customer.id, name="Bello", species="dog")
        session.add(pet)
        await session.commit()
        return business.id, pet.id


async def _log(sessions: SessionFactory, record_id: int) -> list[tuple[str, str, str | None]]:
    async with sessions() as session:
        rows = await session.execute(
            select(NotificationLog)
            .where(NotificationLog.entity_type == "vaccination", NotificationLog.entity_id == record_id)
            .order_by(NotificationLog.id)
        )
        return [(r.event, r.status.value, r.reason) for r in rows.scalars()]


async def _result(env: WorkflowEnvironment, record_id: int) -> VaccinationView:
    handle = env.client.get_workflow_handle_for(VaccinationWorkflow.run, vaccination_workflow_id(record_id))
    return await asyncio.wait_for(handle.result(), 60)


def test_alert_moments_are_business_local_mornings_across_dst() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    expires = datetime(2026, 11, 10, 23, 0, tzinfo=UTC)  # 00:00 on 11 Nov in Berlin
    moments = expiry_moments(expires, [30, 14, 7], time(10, 0), berlin)
    assert [m.days_before for m in moments] == [30, 14, 7]
    assert moments[0].at == datetime(2026, 10, 12, 8, 0, tzinfo=UTC)  # summer time: 10:00 CEST
    assert moments[1].at == datetime(2026, 10, 28, 9, 0, tzinfo=UTC)  # winter time: 10:00 CET


async def test_a_record_goes_through_every_threshold_then_expires(
    skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
) -> None:
    _, sms = peers
    business_id, pet_id = await _pet(sessions)
    async with running_worker(skipping_env.client, sessions, provider_settings):
        record = await register_vaccination(
            sessions,
            skipping_env.client,
            business_id,
            {"pet_id": pet_id, "vaccine": "Rabies", "expires_at": datetime.now(UTC) + timedelta(days=40)},
        )
        final = await _result(skipping_env, record.id)
    assert final.status == "expired"
    assert await _log(sessions, record.id) == [
        ("vaccination.expiring_30d", "sent", None),
        ("vaccination.expiring_14d", "sent", None),
        ("vaccination.expiring_7d", "sent", None),
        ("vaccination.expired", "sent", None),
    ]
    assert "Bello's Rabies vaccination expires on" in sms.accepted["sms"][0]["form"]["Body"]
    async with sessions() as session:
        stored = await session.get(Vaccination, record.id)
    assert stored is not None and stored.status.value == "expired"


async def test_a_late_record_sends_only_the_latest_due_alert(
    skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
) -> None:
    business_id, pet_id = await _pet(sessions)
    async with running_worker(skipping_env.client, sessions, provider_settings):
        record = await register_vaccination(
            sessions,
            skipping_env.client,
            business_id,
            {"pet_id": pet_id, "vaccine": "Lepto", "expires_at": datetime.now(UTC) + timedelta(days=10)},
        )
        final = await _result(skipping_env, record.id)
    assert [event for event, _, _ in await _log(sessions, record.id)] == [
        "vaccination.expiring_14d",
        "vaccination.expiring_7d",
        "vaccination.expired",
    ]
    assert "vaccination.expiring_30d: skipped (overtaken)" in final.sent


async def test_a_new_record_supersedes_the_old_one_which_ends_quietly(
    skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
) -> None:
    business_id, pet_id = await _pet(sessions)
    async with running_worker(skipping_env.client, sessions, provider_settings):
        with skipping_env.with_time_skipping_disabled():
            old, _ = await _sleeping_record(skipping_env, sessions, business_id, pet_id)
            new = await register_vaccination(
                sessions,
                skipping_env.client,
                business_id,
                {
                    "pet_id": pet_id,
                    "vaccine": "Rabies",
                    "expires_at": datetime.now(UTC) + timedelta(days=400),
                },
            )
        final = await _result(skipping_env, old.id)
    assert final.status == "superseded"
    async with sessions() as session:
        stored = await session.get(Vaccination, old.id)
    assert stored is not None and (stored.status.value, stored.superseded_by) == ("superseded", new.id)
    assert [event for event, _, _ in await _log(sessions, old.id)] == [
        "vaccination.expiring_30d"
    ]  # late, still due


async def test_new_alert_days_reach_a_sleeping_record_and_nothing_sent_goes_out_again(
    skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
) -> None:
    business_id, pet_id = await _pet(sessions)
    async with running_worker(skipping_env.client, sessions, provider_settings):
        with skipping_env.with_time_skipping_disabled():
            record, handle = await _sleeping_record(skipping_env, sessions, business_id, pet_id)
            _, rollout = await update_business(
                sessions,
                skipping_env.client,
                business_id,
                {"automation": {"vaccination_alert_days": [21, 10]}},
            )
            assert rollout is not None
            await eventually(lambda: _next_is(handle, "10-day alert"), what="the alerts planned again")
        await skipping_env.fast_forward(handle, timedelta(days=21))  # started with skipping off: by hand
        final = await _result(skipping_env, record.id)
    assert [event for event, _, _ in await _log(sessions, record.id)] == [
        "vaccination.expiring_30d",  # sent before the change, never again
        "vaccination.expiring_10d",
        "vaccination.expired",
    ]
    assert "vaccination.expiring_21d: skipped (already_alerted)" in final.sent


async def _sleeping_record(
    env: WorkflowEnvironment, sessions: SessionFactory, business_id: int, pet_id: int
) -> tuple[Vaccination, Any]:
    """A Rabies record expiring in 20 days: its 30-day alert goes out (late), then it sleeps."""
    record = await register_vaccination(
        sessions,
        env.client,
        business_id,
        {"pet_id": pet_id, "vaccine": "Rabies", "expires_at": datetime.now(UTC) + timedelta(days=20)},
    )
    handle = env.client.get_workflow_handle_for(VaccinationWorkflow.run, vaccination_workflow_id(record.id))
    await eventually(lambda: _sleeping(handle), what="the 30-day alert (late), then sleep")
    return record, handle


async def _next_is(handle: Any, action: str) -> bool:
    view: VaccinationView = await handle.query(VaccinationWorkflow.state)
    return view.next_action == action


async def _sleeping(handle: Any) -> bool:
    view: VaccinationView = await handle.query(VaccinationWorkflow.state)
    return view.sent != []


async def test_an_owner_without_sms_consent_gets_nothing_but_the_status_still_moves(
    skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
) -> None:
    smtp, sms = peers
    business_id, pet_id = await _pet(sessions, sms_opted_in=False)
    async with running_worker(skipping_env.client, sessions, provider_settings):
        record = await register_vaccination(
            sessions,
            skipping_env.client,
            business_id,
            {"pet_id": pet_id, "vaccine": "Rabies", "expires_at": datetime.now(UTC) + timedelta(days=8)},
        )
        final = await _result(skipping_env, record.id)
    assert final.status == "expired"
    assert {status for _, status, _ in await _log(sessions, record.id)} == {"skipped"}
    assert {reason for _, _, reason in await _log(sessions, record.id)} == {"no_channel"}
    assert sms.accepted["sms"] == [] and smtp.messages == []  # SMS-only alerts never fall back to e-mail


async def test_a_record_that_hears_many_settings_changes_continues_as_new_and_alerts_once(
    skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
) -> None:
    """A record sleeps for years and hears every settings change: past its history limit the workflow
    continues as new with what it knows (alerts done, the view's lines), so the 30-day alert sent before
    goes out once, and the rest follow."""
    env = skipping_env
    business_id, pet_id = await _pet(sessions)
    async with sessions() as session:
        record, _ = await pets.add_vaccination(
            session,
            business_id,
            {"pet_id": pet_id, "vaccine": "Rabies", "expires_at": datetime.now(UTC) + timedelta(days=40)},
        )
        snapshot = await pets.vaccination_snapshot(session, record)
    async with running_worker(env.client, sessions, provider_settings):
        handle = await env.client.start_workflow(
            VaccinationWorkflow.run,
            VaccinationInput(
                vaccination_id=record.id,
                business_id=business_id,
                snapshot=snapshot,
                continue_as_new_after_events=20,
            ),
            id=vaccination_workflow_id(record.id),
            task_queue=MAINTENANCE,
        )
        first_run = handle.result_run_id
        with env.with_time_skipping_disabled():

            async def alerted_30d() -> bool:
                view = await handle.query(VaccinationWorkflow.state)
                return view.next_action == "14-day alert"

            await env.fast_forward(handle, timedelta(days=11))
            await eventually(alerted_30d, what="the 30-day alert")
            for revision in range(1, 11):
                async with sessions() as session:
                    await tenants.bump_settings_revision(session, business_id)
                    await session.commit()
                await handle.signal(VaccinationWorkflow.settings_changed, SettingsChanged(revision=revision))
                await asyncio.sleep(0.2)

            await eventually(
                lambda: began_new_run(handle, first_run, VaccinationWorkflow.state), what="a continue-as-new"
            )
            await env.fast_forward(handle, timedelta(days=30))  # the new run's clock, to past the expiry
        final = await _result(env, record.id)
    assert final.status == "expired"
    assert [line for line in final.sent if "30d" in line] == ["vaccination.expiring_30d: sent"]
    assert await _log(sessions, record.id) == [
        ("vaccination.expiring_30d", "sent", None),
        ("vaccination.expiring_14d", "sent", None),
        ("vaccination.expiring_7d", "sent", None),
        ("vaccination.expired", "sent", None),
    ]
