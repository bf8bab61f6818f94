"""Three worker processes, one SIGKILLed while reminders fire and policy calls are placed: the other two
take its work. Every reminder arrives exactly once (the Twilio peer deduplicates nothing), the SMS rate
limit holds across the processes (one token bucket in PostgreSQL), and so do the call caps (calls a day,
calls at once). Measured recovery lateness is a benchmark's job (bench/recovery.py), not this test's.

A call the killed worker was placing holds its slot until its attempt's 60 s start-to-close timeout passes
(the agent may really be calling: the cap must count it); then another worker places it again with the same
Idempotency-Key. So this test takes about two minutes when the kill hits a call."""

from __future__ import annotations

import asyncio
import socket
import tempfile
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.testing import WorkflowEnvironment

from db.engine import SessionFactory
from db.models import Call, NotificationLog
from domain.call_config import CallSchedulerConfig
from domain.statuses import CallStatus, NotificationStatus
from domain.task_queues import APPOINTMENTS, NOTIFICATIONS
from keeptime.settings import Settings
from services.settings import change_call_config
from tests.appointment_support import eventually, start_workflow_of
from tests.factories import make_appointment, make_business, make_customer
from tests.peers import ProviderPeer, SmtpPeer
from tests.policy_support import make_insurer, make_policy, midday_zone
from tests.voice_agent_peer import VoiceAgentPeer
from tests.worker_processes import WorkerProcess, settings_environment

pytestmark = pytest.mark.e2e

REMINDERS = 24
SMS_PER_S = 4.0
POLICIES, PER_DAY, AT_ONCE = 12, 6, 2
FAST = {
    # 40 s before: a reminder may be late by up to 39 s before its cutoff skips it (``too_late``), so the
    # test checks delivery, not timing (bench/recovery.py measures that).
    "reminder_offsets_s": [40],
    "reminder_cutoff_s": 1,
    "quiet_hours": {"start": "00:00", "end": "00:00"},
    "notify_admin_on_booking": False,
}


async def _book(sessions: SessionFactory, env: WorkflowEnvironment, first_due: datetime) -> list[str]:
    """REMINDERS appointments, one SMS customer each, reminders due every half second from ``first_due``."""
    business = await make_business(sessions, name="Three Workers Salon", time_zone="UTC", automation=FAST)
    phones = []
    for n in range(REMINDERS):
        phone = f"+4917{n:08d}"
        customer = await make_customer(
            sessions, business, phone=phone, sms_opted_in=True, channel_order=["sms"], email=None
        )
        starts = first_due + timedelta(seconds=40 + n / 2)
        appointment = await make_appointment(
            sessions, business, customer, starts_at=starts, ends_at=starts + timedelta(minutes=30)
        )
        await start_workflow_of(sessions, env.client, appointment.id)
        phones.append(phone)
    return phones


async def _policies(sessions: SessionFactory, env: WorkflowEnvironment) -> tuple[int, CallSchedulerConfig]:
    """POLICIES policies of an insurer whose calling is paused until the kill."""
    zone = midday_zone()
    today = datetime.now(UTC).astimezone(zone).date()
    caps = {
        "call_time": time(0, 0),
        "last_call_time": time(23, 59, 59),
        "max_calls_per_day": PER_DAY,
        "max_concurrent_calls": AT_ONCE,
        "busy_retry_seconds": 1,
    }
    insurer = await make_insurer(sessions, time_zone=zone.key, enabled=False, **caps)
    for n in range(POLICIES):
        await make_policy(sessions, env.client, insurer, today + timedelta(days=10 + n))
    return insurer.business.id, CallSchedulerConfig.model_validate(caps)


def _max_in_window(instants: list[datetime], window_s: float) -> int:
    ordered = sorted(instants)
    return max(
        (
            sum(1 for later in ordered[i:] if (later - at).total_seconds() < window_s)
            for i, at in enumerate(ordered)
        ),
        default=0,
    )


async def _declined_today(sessions: SessionFactory, business_id: int, today: date) -> int:
    async with sessions() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(Call)
            .where(
                Call.business_id == business_id, Call.local_day == today, Call.status == CallStatus.DECLINED
            )
        )
    return int(count or 0)


async def test_three_workers_one_killed_every_reminder_once_and_the_caps_hold(
    dev_env: WorkflowEnvironment,
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
    voice_agent: VoiceAgentPeer,
) -> None:
    _, provider = peers
    voice_agent.default, voice_agent.delay_s = "declined", 1.0
    settings = provider_settings.model_copy(
        update={
            "temporal_address": dev_env.client.service_client.config.target_host,
            "sms_rate_per_s": SMS_PER_S,
        }
    )
    environment = settings_environment(
        settings,
        TEMPORAL_ADDRESS=settings.temporal_address,
        SMS_RATE_PER_S=str(SMS_PER_S),
        SMS_PROVIDER="telnyx",
        LOG_LEVEL="WARNING",
        WORKER_DB_POOL_SIZE="10",
    )
    logs = Path(tempfile.mkdtemp(prefix="kt-kill-", dir="/tmp"))
    workers = [WorkerProcess(environment, logs / f"worker-{n}.log") for n in range(3)]
    for worker in workers:
        worker.start()
    try:
        # The premise is three workers polling: wait for each (under a loaded machine they take a while to
        # start), or the reminders would be late for the wrong reason and hit their cutoff.
        await eventually(
            lambda: _all_polling(dev_env, workers), timeout_s=120, what="three worker processes polling"
        )
        first_due = datetime.now(UTC) + timedelta(seconds=15)
        phones = await _book(sessions, dev_env, first_due)
        business_id, config = await _policies(sessions, dev_env)
        today = datetime.now(UTC).astimezone(midday_zone()).date()

        # The kill lands in the middle of the reminders, while the calls start.
        kill_at = first_due + timedelta(seconds=REMINDERS / 4)
        await asyncio.sleep(max(0.0, (kill_at - datetime.now(UTC)).total_seconds()))
        await change_call_config(sessions, dev_env.client, business_id, config)
        await asyncio.sleep(0.5)
        workers[0].kill()

        async def all_sent() -> bool:
            return len(provider.accepted["sms"]) >= 2 * REMINDERS  # the booking confirmation, the reminder

        try:
            await eventually(all_sent, timeout_s=120, what="every reminder")
        except AssertionError as exc:
            raise AssertionError(f"{exc}: {await _unsent(sessions)}") from None
        await eventually(
            lambda: _declined_today_is(sessions, business_id, today, PER_DAY),
            timeout_s=120,
            what="a day of calls",
        )
        await asyncio.sleep(3)  # anything sent twice would arrive by now
    finally:
        for worker in workers:
            worker.stop()

    by_phone = Counter(entry["json"]["to"] for entry in provider.accepted["sms"])
    assert by_phone == Counter(phones * 2)  # each message exactly once, none lost with the killed worker
    capacity = SMS_PER_S  # the bucket holds one second's worth
    assert (
        _max_in_window([entry["at"] for entry in provider.accepted["sms"]], 1.0) <= capacity + SMS_PER_S + 1
    )
    assert await _declined_today(sessions, business_id, today) == PER_DAY
    assert 1 <= voice_agent.max_in_flight <= AT_ONCE


async def _all_polling(env: WorkflowEnvironment, workers: list[WorkerProcess]) -> bool:
    expected = {f"{worker.pid}@{socket.gethostname()}" for worker in workers}
    for queue, kind in (
        (NOTIFICATIONS, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY),
        (APPOINTMENTS, TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW),
    ):
        answer = await env.client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace="default", task_queue=TaskQueue(name=queue), task_queue_type=kind
            )
        )
        if not expected <= {poller.identity for poller in answer.pollers}:
            return False
    return True


async def _declined_today_is(sessions: SessionFactory, business_id: int, today: date, count: int) -> bool:
    return await _declined_today(sessions, business_id, today) >= count


async def _unsent(sessions: SessionFactory) -> list[tuple[str, str, int, str | None, str | None]]:
    async with sessions() as session:
        rows = await session.execute(
            select(NotificationLog).where(NotificationLog.status != NotificationStatus.SENT)
        )
        return [
            (row.idempotency_key[-60:], row.status.value, row.attempts, row.reason, row.resolution)
            for row in rows.scalars()
        ]
