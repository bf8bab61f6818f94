"""NotificationWorkflow and BroadcastWorkflow on real Temporal servers, with the real activities and peers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.notifications import NotificationActivities
from db import notification_queries
from db.engine import SessionFactory
from db.models import Broadcast, NotificationLog
from domain.notification_types import BroadcastInput, NotificationRequest, SendNotificationInput
from domain.statuses import NotificationStatus
from domain.task_queues import NOTIFICATIONS
from keeptime.settings import Settings
from tests.factories import make_appointment, make_business, make_customer
from tests.peers import ProviderPeer, SmtpPeer
from tests.support import running_worker
from workflows.broadcast import BroadcastWorkflow
from workflows.notification import NotificationWorkflow


async def test_transient_provider_errors_are_retried_by_temporal_and_sent_once(
    time_skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
) -> None:
    _, http = peers
    business = await make_business(sessions)
    customer = await make_customer(sessions, business, channel_order=["sms"])
    appointment = await make_appointment(sessions, business, customer)
    http.fail_next("sms", 503, times=2)  # not taken; a 500 may have been (see test_notification_crashes)
    request = NotificationRequest(
        business_id=business.id,
        entity_type="appointment",
        entity_id=appointment.id,
        event="appointment.confirmed",
        customer_id=customer.id,
        entity_version=1,
    )
    async with running_worker(time_skipping_env.client, sessions, provider_settings):
        result = await time_skipping_env.client.execute_workflow(
            NotificationWorkflow.run,
            SendNotificationInput(request=request),
            id="notify-retry",
            task_queue=NOTIFICATIONS,
        )
    assert result.status == "sent"
    assert http.requests["sms"] == 3 and len(http.accepted["sms"]) == 1
    async with sessions() as session:
        [row] = (await session.execute(select(NotificationLog))).scalars()
    assert (row.status, row.attempts) == (NotificationStatus.SENT, 3)


async def test_retry_after_becomes_the_next_retry_delay(
    notifier: NotificationActivities, sessions: SessionFactory, peers: tuple[SmtpPeer, ProviderPeer]
) -> None:
    _, http = peers
    business = await make_business(sessions)
    customer = await make_customer(sessions, business, channel_order=["sms"])
    appointment = await make_appointment(sessions, business, customer)
    http.fail_next("sms", 429, retry_after="42")
    request = NotificationRequest(
        business_id=business.id,
        entity_type="appointment",
        entity_id=appointment.id,
        event="appointment.confirmed",
        customer_id=customer.id,
    )
    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(notifier.send_notification, request)
    assert raised.value.next_retry_delay == timedelta(seconds=42)
    assert not raised.value.non_retryable


async def test_a_reminder_planned_in_quiet_hours_waits_for_the_morning(
    time_skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
) -> None:
    smtp, _ = peers
    berlin = ZoneInfo("Europe/Berlin")
    server_now = await time_skipping_env.get_current_time()  # the test server's clock runs ahead of ours
    day_after_tomorrow = (server_now.astimezone(berlin) + timedelta(days=2)).date()
    starts_at = datetime.combine(day_after_tomorrow, datetime.min.time().replace(hour=10), berlin).astimezone(
        UTC
    )
    planned = starts_at - timedelta(hours=4)  # 06:00: quiet; 08:00 is nearer than 20:59 the evening before
    business = await make_business(sessions)
    customer = await make_customer(sessions, business, channel_order=["email"])
    appointment = await make_appointment(sessions, business, customer, starts_at=starts_at)
    request = NotificationRequest(
        business_id=business.id,
        entity_type="appointment",
        entity_id=appointment.id,
        event="appointment.reminder",
        variant="4h",
        customer_id=customer.id,
        scheduled_for=planned,
        entity_version=1,
        deadline=starts_at,
    )
    async with running_worker(time_skipping_env.client, sessions, provider_settings):
        handle = await time_skipping_env.client.start_workflow(
            NotificationWorkflow.run,
            SendNotificationInput(request=request, planned_for=planned),
            id="notify-quiet",
            task_queue=NOTIFICATIONS,
        )
        result = await handle.result()
    assert result.status == "sent" and len(smtp.messages) == 1
    history = await handle.fetch_history()
    timers = [
        e.timer_started_event_attributes
        for e in history.events
        if e.HasField("timer_started_event_attributes")
    ]
    [timer] = timers
    morning = datetime.combine(day_after_tomorrow, datetime.min.time().replace(hour=8), berlin)
    slept = timer.start_to_fire_timeout.ToTimedelta()
    assert abs((workflow_start(history) + slept) - morning) < timedelta(minutes=1)


def workflow_start(history: object) -> datetime:
    first = history.events[0]  # type: ignore[attr-defined]
    return first.event_time.ToDatetime(tzinfo=UTC)  # type: ignore[no-any-return]


async def test_a_large_broadcast_continues_as_new_and_counts_everyone(
    time_skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
) -> None:
    _, http = peers
    business = await make_business(sessions)
    for n in range(23):
        await make_customer(
            sessions, business, name=f"Customer {n}", channel_order=["push"], push_token=f"t{n}"
        )
    opted_out = await make_customer(sessions, business, channel_order=["push"], push_opted_in=False)
    async with sessions() as session:
        broadcast = await notification_queries.create_broadcast(
            session, business.id, "Open Sunday", "10-16", None
        )
    async with running_worker(time_skipping_env.client, sessions, provider_settings):
        handle = await time_skipping_env.client.start_workflow(
            BroadcastWorkflow.run,
            BroadcastInput(
                broadcast_id=broadcast.id, business_id=business.id, batch_size=5, batches_per_run=2
            ),
            id=f"broadcast-{broadcast.id}",
            task_queue=NOTIFICATIONS,
        )
        status = await handle.result()
    assert status.state == "completed"
    assert (status.progress.sent, status.progress.skipped, status.progress.failed) == (23, 1, 0)
    assert len(http.accepted["push"]) == 23
    assert (await handle.describe()).run_id != handle.first_execution_run_id  # it continued as new
    async with sessions() as session:
        stored = await session.get(Broadcast, broadcast.id)
    assert stored is not None and stored.status == "completed"
    assert stored.report is not None and stored.report["sent"] == 23
    assert opted_out.id  # the opted-out customer is the one skip


async def test_a_customer_with_a_locale_babel_does_not_know_never_stops_a_broadcast(
    time_skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
) -> None:
    """Rows stored before locales were checked (``fj``, ``xx_YY``): their messages format in English and the
    broadcast completes for everyone (it used to stay ``running``, its batch failing on every retry)."""
    _, http = peers
    business = await make_business(sessions)
    for n, locale in enumerate(["fj", "xx_YY", "de", "en"]):
        await make_customer(
            sessions, business, name=f"C {n}", locale=locale, channel_order=["push"], push_token=f"t{n}"
        )
    async with sessions() as session:
        broadcast = await notification_queries.create_broadcast(session, business.id, "Hi", "Open", None)
    async with running_worker(time_skipping_env.client, sessions, provider_settings):
        status = await time_skipping_env.client.execute_workflow(
            BroadcastWorkflow.run,
            BroadcastInput(broadcast_id=broadcast.id, business_id=business.id),
            id=f"broadcast-{broadcast.id}",
            task_queue=NOTIFICATIONS,
        )
    assert status.state == "completed" and status.progress.sent == 4
    assert len(http.accepted["push"]) == 4


async def test_cancelling_a_broadcast_stops_it_and_records_the_report(
    dev_env: WorkflowEnvironment,
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
) -> None:
    _, http = peers
    business = await make_business(sessions)
    for n in range(12):
        await make_customer(
            sessions, business, name=f"Customer {n}", channel_order=["push"], push_token=f"t{n}"
        )
    async with sessions() as session:
        broadcast = await notification_queries.create_broadcast(session, business.id, "News", "Hello", None)
    async with running_worker(dev_env.client, sessions, provider_settings):
        handle = await dev_env.client.start_workflow(
            BroadcastWorkflow.run,
            BroadcastInput(broadcast_id=broadcast.id, business_id=business.id, batch_size=3, rate_per_s=0.5),
            id=f"broadcast-cancel-{broadcast.id}",
            task_queue=NOTIFICATIONS,
        )
        for _ in range(100):
            if (await handle.query(BroadcastWorkflow.progress)).progress.sent >= 3:
                break
            await asyncio.sleep(0.1)
        await handle.cancel()
        with pytest.raises(WorkflowFailureError):
            await handle.result()
    async with sessions() as session:
        stored = await session.get(Broadcast, broadcast.id)
    assert stored is not None and stored.status == "cancelled"
    assert stored.report is not None and 3 <= stored.report["sent"] < 12
    assert len(http.accepted["push"]) == stored.report["sent"]
