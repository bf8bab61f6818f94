"""The failed-notification retry sweep through the idempotent delivery layer (real PostgreSQL, SMS/e-mail
peers): only transient failures younger than 24 h with fewer than 3 attempts are retried, a message that
another channel delivered or whose appointment was cancelled is not, and a second sweep sends nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from activities.notifications import NotificationActivities
from db.engine import SessionFactory
from db.models import Appointment, Business, NotificationLog
from domain.job_types import JobBatchInput
from domain.statuses import AppointmentStatus, NotificationStatus
from tests.factories import make_appointment, make_business, make_customer, set_appointment
from tests.peers import ProviderPeer, SmtpPeer
from tests.test_notification_delivery import reminder


async def _failed_sms(
    notifier: NotificationActivities,
    sessions: SessionFactory,
    http: ProviderPeer,
    business: Business,
    order: list[str],
) -> Appointment:
    customer = await make_customer(sessions, business, channel_order=order)
    appointment = await make_appointment(sessions, business, customer)
    http.fail_next("sms", 503)
    await notifier.deliver(reminder(appointment), final_attempt=True)
    return appointment


async def _sms_row(sessions: SessionFactory, appointment: Appointment) -> NotificationLog:
    async with sessions() as session:
        return (
            await session.execute(
                select(NotificationLog).where(
                    NotificationLog.entity_id == appointment.id, NotificationLog.channel == "sms"
                )
            )
        ).scalar_one()


async def test_the_sweep_retries_only_what_may_go_out_and_never_twice(
    notifier: NotificationActivities, sessions: SessionFactory, peers: tuple[SmtpPeer, ProviderPeer]
) -> None:
    smtp, http = peers
    business = await make_business(sessions)
    retried = await _failed_sms(notifier, sessions, http, business, ["sms"])
    fell_back = await _failed_sms(notifier, sessions, http, business, ["sms", "email"])  # e-mail went out
    too_old = await _failed_sms(notifier, sessions, http, business, ["sms"])
    worn_out = await _failed_sms(notifier, sessions, http, business, ["sms"])
    cancelled = await _failed_sms(notifier, sessions, http, business, ["sms"])
    async with sessions() as session:
        await session.execute(
            update(NotificationLog)
            .where(NotificationLog.entity_id == too_old.id)
            .values(created_at=datetime.now(UTC) - timedelta(hours=25))
        )
        await session.execute(
            update(NotificationLog).where(NotificationLog.entity_id == worn_out.id).values(attempts=3)
        )
        await session.commit()
    await set_appointment(sessions, cancelled.id, status=AppointmentStatus.CANCELLED)
    assert [
        (await _sms_row(sessions, a)).status for a in (retried, fell_back, too_old, worn_out, cancelled)
    ] == [NotificationStatus.FAILED] * 5
    assert len(http.accepted["sms"]) == 0 and len(smtp.messages) == 1

    now = datetime.now(UTC)
    sweep = JobBatchInput(
        job="notification-retry-sweep",
        cutoff=(now - timedelta(days=1)).isoformat(),
        now=now.isoformat(),
        after=0,
        limit=100,
    )
    first = await notifier.retry_failed_batch(sweep)
    second = await notifier.retry_failed_batch(sweep)

    # candidates: retried, fell_back (settled by e-mail: left alone) and cancelled (stale: not sent)
    assert (first.scanned, first.changed, first.errors) == (3, 1, 0)
    assert (second.scanned, second.changed) == (1, 0)  # only fell_back is still failed; nothing is sent
    assert len(http.accepted["sms"]) == 1 and len(smtp.messages) == 1
    row = await _sms_row(sessions, retried)
    assert (row.status, row.attempts) == (NotificationStatus.SENT, 2)
    assert (await _sms_row(sessions, fell_back)).status == NotificationStatus.FAILED
    gone = await _sms_row(sessions, cancelled)
    assert (gone.status, gone.reason) == (NotificationStatus.FAILED, "retry_not_sent")
