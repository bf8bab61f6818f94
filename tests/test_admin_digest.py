"""Admin digests instead of an e-mail per booking (issue 12, part 5): the digest instant and window across DST
(pure), and ``admin-digest-<business>`` on the v2 time-skipping server with the real activities, PostgreSQL
and SMTP peer: one e-mail listing the day's bookings, cancellations and no-shows, nothing on an empty day,
no per-booking alert meanwhile, and a switch back to ``each`` ends it."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from db.appointments import appointment_snapshot
from db.engine import SessionFactory
from db.models import Appointment, Business, NotificationLog
from domain.admin_digest import AdminDigestView, digest_window, due_digest, next_digest_at, window_start
from domain.ids import admin_digest_workflow_id
from domain.statuses import AppointmentStatus
from keeptime.settings import Settings
from services.settings import business_created, update_business
from tests.appointment_support import NO_QUIET_HOURS, eventually, until_next
from tests.factories import make_appointment, make_business, make_customer
from tests.peers import ProviderPeer, SmtpPeer
from tests.support import running_worker
from tests.test_notification_delivery import parts
from workflows.admin_digest import AdminDigestWorkflow
from workflows.starts import ensure_workflow

BERLIN = ZoneInfo("Europe/Berlin")


def test_the_digest_keeps_its_wall_time_and_covers_one_local_day_across_dst() -> None:
    six = time(18, 0)
    spring = datetime(2031, 3, 30, 10, 0, tzinfo=UTC)  # Berlin moves to summer time at 02:00 that night
    at = next_digest_at(spring, six, BERLIN)
    assert at == datetime(2031, 3, 30, 16, 0, tzinfo=UTC)  # 18:00 CEST
    start, end = digest_window(at, six, BERLIN)
    assert (start, end - start) == (datetime(2031, 3, 29, 17, 0, tzinfo=UTC), timedelta(hours=23))
    autumn = next_digest_at(datetime(2031, 10, 26, 10, 0, tzinfo=UTC), six, BERLIN)
    assert autumn == datetime(2031, 10, 26, 17, 0, tzinfo=UTC)  # 18:00 CET
    assert autumn - digest_window(autumn, six, BERLIN)[0] == timedelta(hours=25)
    in_the_gap = next_digest_at(datetime(2031, 3, 29, 23, 0, tzinfo=UTC), time(2, 30), BERLIN)
    assert in_the_gap.astimezone(BERLIN).strftime("%H:%M") == "03:30"  # 02:30 does not exist that night
    exactly = next_digest_at(at, six, BERLIN)
    assert exactly == datetime(2031, 3, 31, 16, 0, tzinfo=UTC)  # strictly after: the next day's


async def _digest_state(env: WorkflowEnvironment, business_id: int) -> AdminDigestView:
    handle = env.client.get_workflow_handle_for(
        AdminDigestWorkflow.run, admin_digest_workflow_id(business_id)
    )
    view: AdminDigestView = await handle.query(AdminDigestWorkflow.state)
    return view


async def test_one_digest_a_day_lists_the_day_and_an_empty_day_sends_nothing(
    skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
) -> None:
    smtp, _ = peers
    env = skipping_env
    now = datetime.now(UTC)
    digest_time = (now + timedelta(hours=2)).astimezone(BERLIN).time().replace(second=0, microsecond=0)
    automation: dict[str, Any] = {
        "quiet_hours": NO_QUIET_HOURS.model_dump(mode="json"),
        "admin_alerts": "daily_digest",
        "admin_digest_time": digest_time.isoformat(),
    }
    business = await make_business(sessions, automation=automation)
    ada = await make_customer(sessions, business, name="Ada Lovelace", channel_order=["email"])
    starts = now + timedelta(days=3)
    booked = [
        await make_appointment(
            sessions, business, ada, starts_at=starts + timedelta(hours=n), service=service
        )
        for n, service in enumerate(["Haircut", "Colour", "Beard trim"])
    ]
    await _set(sessions, booked[1].id, AppointmentStatus.CANCELLED, now - timedelta(minutes=30))
    await _set(sessions, booked[2].id, AppointmentStatus.NO_SHOW, now - timedelta(minutes=20))
    async with running_worker(env.client, sessions, provider_settings):
        with env.with_time_skipping_disabled():
            await business_created(env.client, business)
            handle = env.client.get_workflow_handle(admin_digest_workflow_id(business.id))
            # a booking now: its admin alert waits for the digest instead of going out on its own
            async with sessions() as session:
                row = await session.get(Appointment, booked[0].id)
                assert row is not None
                appointment = await ensure_workflow(env.client, await appointment_snapshot(session, row))
            await until_next(appointment, "reminder")
            await eventually(lambda: _sleeping_until_digest(env, business.id), what="the digest planned")
        first = (await _digest_state(env, business.id)).next_at
        assert first is not None and first.astimezone(BERLIN).time() == digest_time
        await env.fast_forward(handle, timedelta(hours=2, minutes=1))
        await eventually(lambda: _digests(smtp, 1), what="the first digest")
        await env.fast_forward(handle, timedelta(days=1))  # a day without bookings
        await eventually(lambda: _sent_twice(env, business.id), what="the second digest moment")
        view = await _digest_state(env, business.id)
        _, rollout = await update_business(
            sessions, env.client, business.id, {"automation": {**automation, "admin_alerts": "each"}}
        )
        assert rollout is not None
        await eventually(lambda: _ended(handle), what="the digest to end after the switch to each")
    [digest] = [m for m in smtp.messages if "your day" in str(m["Subject"])]
    assert str(digest["To"]) == "owner@studio.test"
    text = parts(digest)["text/plain"]
    assert "New bookings: 3" in text and "Cancellations: 1" in text and "No-shows: 1" in text
    assert "Colour, Ada Lovelace" in text and "Beard trim, Ada Lovelace" in text
    assert view.sent[0].endswith(": sent") and view.sent[1].endswith(": skipped (empty_digest)")
    async with sessions() as session:
        logs = list((await session.execute(select(NotificationLog).order_by(NotificationLog.id))).scalars())
    alert = [log for log in logs if log.event == "appointment.admin_new_booking"]
    assert [(log.status.value, log.reason) for log in alert] == [("skipped", "in_daily_digest")]
    keys = [log.idempotency_key for log in logs if log.event == "business.admin_digest"]
    assert keys[0] == f"business:{business.id}:business.admin_digest:admin:{first.isoformat()}:-:email"
    assert len(keys) == 2 and len(set(keys)) == 2  # one per day, each claimed once


async def _set(
    sessions: SessionFactory, appointment_id: int, status: AppointmentStatus, at: datetime
) -> None:
    async with sessions() as session:
        row = await session.get(Appointment, appointment_id)
        assert row is not None
        row.status, row.status_changed_at = status, at
        await session.commit()


async def _sleeping_until_digest(env: WorkflowEnvironment, business_id: int) -> bool:
    try:
        return (await _digest_state(env, business_id)).next_at is not None
    except Exception:  # not started yet
        return False


async def _digests(smtp: SmtpPeer, count: int) -> bool:
    return sum("your day" in str(m["Subject"]) for m in smtp.messages) == count


async def _sent_twice(env: WorkflowEnvironment, business_id: int) -> bool:
    return len((await _digest_state(env, business_id)).sent) == 2


async def _ended(handle: Any) -> bool:
    return bool((await handle.describe()).status == WorkflowExecutionStatus.COMPLETED)


def test_a_window_open_for_days_is_reported_by_one_catch_up_digest_at_the_latest_missed_instant() -> None:
    six = time(18, 0)
    since = datetime(2031, 3, 10, 17, 0, tzinfo=UTC)  # the 18:00 digest of 10 March was the last reported
    on_time = datetime(2031, 3, 11, 9, 0, tzinfo=UTC)
    assert due_digest(since, on_time, six, BERLIN) == datetime(2031, 3, 11, 17, 0, tzinfo=UTC)
    after_an_outage = datetime(2031, 3, 14, 9, 0, tzinfo=UTC)  # the 11th, 12th and 13th were missed
    catch_up = due_digest(since, after_an_outage, six, BERLIN)
    assert catch_up == datetime(2031, 3, 13, 17, 0, tzinfo=UTC)  # due now, one e-mail, nothing skipped
    assert window_start(since, catch_up, six, BERLIN) == since  # it covers all three days
    assert due_digest(catch_up, after_an_outage, six, BERLIN) == datetime(2031, 3, 14, 17, 0, tzinfo=UTC)
    assert window_start(None, catch_up, six, BERLIN) == datetime(2031, 3, 12, 17, 0, tzinfo=UTC)  # legacy


async def test_a_new_digest_time_reaches_the_running_digest_and_leaving_digest_mode_sends_what_was_held(
    skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
) -> None:
    """A time change plans the sleeping digest again (it used to keep the old time); every booking is in
    exactly one digest; the switch back to ``each`` sends the alerts held since the last digest."""
    smtp, _ = peers
    env = skipping_env
    now = datetime.now(UTC)
    first_time, second_time = (
        (now + timedelta(hours=h)).astimezone(BERLIN).time().replace(second=0, microsecond=0) for h in (2, 3)
    )
    automation: dict[str, Any] = {
        "quiet_hours": NO_QUIET_HOURS.model_dump(mode="json"),
        "admin_alerts": "daily_digest",
        "admin_digest_time": first_time.isoformat(),
    }
    business = await make_business(sessions, automation=automation, digest_since=now - timedelta(hours=1))
    ada = await make_customer(sessions, business, name="Ada Lovelace", channel_order=["email"])
    early = await make_appointment(sessions, business, ada, service="Haircut")
    async with running_worker(env.client, sessions, provider_settings):
        with env.with_time_skipping_disabled():
            await business_created(env.client, business)
            handle = env.client.get_workflow_handle(admin_digest_workflow_id(business.id))
            await eventually(lambda: _next_at_is(env, business.id, first_time), what="the first plan")
            moved = {**automation, "admin_digest_time": second_time.isoformat()}
            await update_business(sessions, env.client, business.id, {"automation": moved})
            await eventually(lambda: _next_at_is(env, business.id, second_time), what="the new time heard")
        await env.fast_forward(handle, timedelta(hours=3, minutes=1))
        await eventually(lambda: _digests(smtp, 1), what="the digest at the new time")
        async with sessions() as session:  # the skipped clock is ahead of the rows' real timestamps
            row = await session.get(Business, business.id)
            assert row is not None and row.digest_since is not None
            assert row.digest_since.astimezone(BERLIN).time() == second_time  # reported up to its instant
            row.digest_since = datetime.now(UTC) - timedelta(minutes=10)
            held = await session.get(Appointment, early.id)
            assert held is not None
            held.created_at = datetime.now(UTC) - timedelta(hours=2)  # reported by the first digest
            await session.commit()
        late = await make_appointment(sessions, business, ada, service="Colour")
        await update_business(
            sessions, env.client, business.id, {"automation": {**automation, "admin_alerts": "each"}}
        )
        await eventually(lambda: _ended(handle), what="the final digest, then the end")
    first, final = [parts(m)["text/plain"] for m in smtp.messages if "your day" in str(m["Subject"])]
    assert "New bookings: 1" in first and "Haircut, Ada Lovelace" in first
    assert "New bookings: 1" in final and "Colour, Ada Lovelace" in final and "Haircut" not in final
    async with sessions() as session:
        row = await session.get(Business, business.id)
        assert row is not None and row.digest_since is None  # the window closed with the final digest
        digests = await session.execute(
            select(NotificationLog.event, NotificationLog.status)
            .where(NotificationLog.event.startswith("business.admin_digest"))
            .order_by(NotificationLog.id)
        )
        assert [(event, status.value) for event, status in digests] == [
            ("business.admin_digest", "sent"),
            ("business.admin_digest_final", "sent"),
        ]
    assert late.id != early.id


async def _next_at_is(env: WorkflowEnvironment, business_id: int, local: time) -> bool:
    try:
        view = await _digest_state(env, business_id)
    except Exception:  # not started yet
        return False
    return view.next_at is not None and view.next_at.astimezone(BERLIN).time() == local
