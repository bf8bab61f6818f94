"""The quick send: one try as a local activity inside the workflow task, the queued activity when it cannot.

Activity-level: a local try never waits for a rate-limit token and is never the last attempt. Workflow-level
(time-skipping v2, real peers): a booking's messages go out as local activities (no activity task, no
second workflow task); a try the provider answers 429 with Retry-After hands over to the queued send only
after that wait, and the message still goes out once.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from sqlalchemy import text
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.notifications import NotificationActivities
from activities.providers import build_providers
from db.engine import SessionFactory
from domain.statuses import NotificationStatus
from keeptime.settings import Settings
from tests.appointment_support import booked, log_of, until_next
from tests.factories import make_appointment, make_business, make_customer
from tests.peers import ProviderPeer, SmtpPeer
from tests.support import running_worker
from tests.test_notification_delivery import log_rows, reminder
from workflows.delivery import QUICK_SEND_TIMEOUT


def local_activity_environment() -> ActivityEnvironment:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, is_local=True, start_to_close_timeout=QUICK_SEND_TIMEOUT)
    return env


async def drain_bucket(sessions: SessionFactory, provider: str, *, for_s: float) -> None:
    """The provider's bucket empty for about ``for_s`` seconds (it refills from then on)."""
    async with sessions() as session, session.begin():
        await session.execute(
            text(
                "INSERT INTO rate_buckets (name, rate, capacity, tokens, updated_at) "
                "VALUES (:name, 10, 10, 0, clock_timestamp() + make_interval(secs => :s)) "
                "ON CONFLICT (name) DO UPDATE SET tokens = 0, updated_at = EXCLUDED.updated_at"
            ),
            {"name": provider, "s": for_s},
        )


async def test_a_local_try_without_a_token_hands_over_and_claims_nothing(
    notifier: NotificationActivities, sessions: SessionFactory, peers: tuple[SmtpPeer, ProviderPeer]
) -> None:
    _, http = peers
    business = await make_business(sessions)
    customer = await make_customer(sessions, business, channel_order=["sms"])
    appointment = await make_appointment(sessions, business, customer)
    await drain_bucket(sessions, "twilio", for_s=60)

    began = datetime.now(UTC)
    with pytest.raises(ApplicationError) as raised:
        await local_activity_environment().run(notifier.send_notification, reminder(appointment))

    assert raised.value.type == "TransientDeliveryError" and "rate-limit token" in str(raised.value)
    assert raised.value.category == ApplicationErrorCategory.BENIGN  # expected: logged at DEBUG
    assert datetime.now(UTC) - began < timedelta(seconds=5)  # it did not wait for the bucket
    assert await log_rows(sessions) == [] and http.accepted["sms"] == []  # nothing claimed, nothing sent


async def test_a_local_try_is_never_the_last_attempt(
    notifier: NotificationActivities, sessions: SessionFactory, peers: tuple[SmtpPeer, ProviderPeer]
) -> None:
    """A 503 on the local try raises for the queued send; on a queued last attempt it fails the channel."""
    _, http = peers
    business = await make_business(sessions)
    customer = await make_customer(sessions, business, channel_order=["sms", "email"])
    appointment = await make_appointment(sessions, business, customer)
    http.fail_next("sms", 503)

    with pytest.raises(ApplicationError):
        await local_activity_environment().run(notifier.send_notification, reminder(appointment))

    [row] = await log_rows(sessions)
    assert (row.status, row.attempts) == (NotificationStatus.QUEUED, 1)  # waiting for the queued send
    assert http.accepted["sms"] == []


def _send_markers(events: list[HistoryEvent]) -> list[HistoryEvent]:
    found = []
    for event in events:
        if event.event_type != EventType.EVENT_TYPE_MARKER_RECORDED:
            continue
        data = event.marker_recorded_event_attributes.details.get("data")
        if data and json.loads(data.payloads[0].data).get("activity_type") == "send_notification":
            found.append(event)
    return found


def _queued_sends(events: list[HistoryEvent]) -> list[HistoryEvent]:
    return [
        event
        for event in events
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        and event.activity_task_scheduled_event_attributes.activity_type.name == "send_notification"
    ]


async def test_a_bookings_messages_go_out_inside_the_workflow_task(
    skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
) -> None:
    smtp, http = peers
    async with running_worker(skipping_env.client, sessions, provider_settings):
        with skipping_env.with_time_skipping_disabled():
            _, _, appointment, handle = await booked(sessions, skipping_env.client)
        await until_next(handle, "reminder")
        events = list((await handle.fetch_history()).events)

    assert await log_of(sessions, appointment.id) == [
        ("appointment.booked", "sent", None),
        ("appointment.admin_new_booking", "sent", None),
    ]
    assert len(http.accepted["sms"]) == 1 and len(smtp.messages) == 1
    markers = _send_markers(events)
    assert len(markers) == 2
    assert not any(m.marker_recorded_event_attributes.HasField("failure") for m in markers)
    assert _queued_sends(events) == []  # no activity task for either message


async def test_a_429_on_the_quick_try_waits_its_retry_after_then_the_queued_send_delivers_once(
    skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
) -> None:
    _, http = peers
    http.fail_next("sms", 429, retry_after="30")
    async with running_worker(skipping_env.client, sessions, provider_settings):
        with skipping_env.with_time_skipping_disabled():
            _, _, appointment, handle = await booked(sessions, skipping_env.client, channel_order=["sms"])
        await until_next(handle, "reminder", timeout_s=60)
        events = list((await handle.fetch_history()).events)

    assert (await log_of(sessions, appointment.id))[0] == ("appointment.booked", "sent", None)
    assert len(http.accepted["sms"]) == 1  # the 429 was not an acceptance; the queued send's was the one
    failed = [m for m in _send_markers(events) if m.marker_recorded_event_attributes.HasField("failure")]
    assert len(failed) == 1
    timers = [
        e
        for e in events
        if e.event_type == EventType.EVENT_TYPE_TIMER_STARTED and e.event_id > failed[0].event_id
    ]
    assert timers[0].timer_started_event_attributes.start_to_fire_timeout.ToTimedelta() == timedelta(
        seconds=30
    )
    [queued] = _queued_sends(events)
    assert queued.event_id > timers[0].event_id  # handed over only after the Retry-After
    [row] = [r for r in await log_rows(sessions) if r.event == "appointment.booked"]
    assert (row.status, row.attempts) == (NotificationStatus.SENT, 2)


async def test_a_local_try_with_no_quick_slot_free_hands_over_and_claims_nothing(
    sessions: SessionFactory, provider_settings: Settings, peers: tuple[SmtpPeer, ProviderPeer]
) -> None:
    """Local tries are not bounded by activity slots; the quick slots keep a burst of them from taking
    every pooled connection (each send holds two)."""
    _, http = peers
    business = await make_business(sessions)
    customer = await make_customer(sessions, business, channel_order=["sms"])
    appointment = await make_appointment(sessions, business, customer)
    async with aiohttp.ClientSession() as client:
        notifier = NotificationActivities(
            sessions, provider_settings, build_providers(provider_settings, client), quick_slots=0
        )
        with pytest.raises(ApplicationError) as raised:
            await local_activity_environment().run(notifier.send_notification, reminder(appointment))
    assert "quick-send slot" in str(raised.value)
    assert await log_rows(sessions) == [] and http.accepted["sms"] == []


@pytest.mark.parametrize(
    ("pool", "activity_slots", "quick"), [(25, 10, 2), (40, 10, 10), (20, 10, 0), (10, 10, 0), (2, 1, 0)]
)
def test_quick_slots_are_what_the_pool_has_left_over_the_activity_slots(
    pool: int, activity_slots: int, quick: int
) -> None:
    settings = Settings(worker_db_pool_size=pool, worker_activity_slots=activity_slots)
    assert settings.quick_send_slots() == quick
