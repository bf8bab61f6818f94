"""Reminder lateness: 1,000 appointments whose reminders fall due at a steady rate, beside 5-minute polling.

    .venv/bin/python -m bench.reminder_lateness [--appointments 1000] [--rate 2.5]

The default spreads 1,000 reminders over 400 s, more than one polling period, so both columns see the
whole cycle; ``--rate 20`` shows a burst.

Books N confirmed appointments (console channel, one reminder 120 s before start, quiet hours off) on the
dev server as `make run` runs it, with the real worker; the reminders fall due at ``rate`` per second.
Lateness = when the console provider accepted the reminder (``notification_log.sent_at``) minus its
scheduled instant. The polling column applies a 5-minute Celery-beat loop (ticks on the wall clock's
5-minute marks) to the same due instants: a reminder waits for the next tick. Prints p50 / p99 / max.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select

from bench.common import bench_database, dev_server, percentile, run_bench
from db.appointments import appointment_snapshot
from db.engine import SessionFactory, create_engine, create_session_factory
from db.models import Appointment, Business, Customer, NotificationLog
from domain.automation import AutomationSettings, QuietHours
from domain.statuses import AppointmentStatus, NotificationStatus
from keeptime.settings import Settings
from tests.support import running_worker
from workflows.starts import ensure_workflow

LEAD_S = 120


def polling_lateness(due: datetime, period_s: int = 300) -> float:
    """How late a reminder due at ``due`` goes out when a loop polls every ``period_s`` on the clock."""
    epoch = due.timestamp()
    return math.ceil(epoch / period_s) * period_s - epoch


async def main(appointments: int, rate: float) -> None:
    db_file = Path(tempfile.mkdtemp(prefix="kt-bench-temporal-")) / "temporal.db"
    async with bench_database("lateness") as url, dev_server(db_file) as env:
        engine = create_engine(url, pool_size=40)
        sessions = create_session_factory(engine)
        settings = Settings(database_url=url)
        automation = AutomationSettings(
            reminder_offsets_s=[LEAD_S],
            reminder_cutoff_s=10,
            notify_admin_on_booking=False,
            quiet_hours=QuietHours.model_validate({"start": "00:00", "end": "00:00"}),
        )
        async with sessions() as session:
            business = Business(name="Bench", time_zone="UTC", automation=automation.model_dump(mode="json"))
            session.add(business)
            await session.flush()
            customer = Customer(
                business_id=business.id, name="Bench", email="b@bench.example", channel_order=["email"]
            )
            session.add(customer)
            await session.flush()
            # the first reminder falls due once every workflow has started and sent its booking message
            first_due = datetime.now(UTC) + timedelta(seconds=30 + appointments / 10)
            starts = [first_due + timedelta(seconds=LEAD_S + i / rate) for i in range(appointments)]
            rows = await session.execute(
                insert(Appointment).returning(Appointment.id),
                [
                    {
                        "business_id": business.id,
                        "customer_id": customer.id,
                        "status": AppointmentStatus.CONFIRMED,
                        "starts_at": s,
                        "ends_at": s + timedelta(minutes=30),
                    }
                    for s in starts
                ],
            )
            ids = list(rows.scalars())
            await session.commit()
        async with running_worker(env.client, sessions, settings):
            began = time.perf_counter()
            async with sessions() as session:
                for appointment_id in ids:
                    appointment = await session.get(Appointment, appointment_id)
                    assert appointment is not None
                    await ensure_workflow(env.client, await appointment_snapshot(session, appointment))
            print(
                f"started {len(ids)} workflows in {time.perf_counter() - began:.1f} s; first reminder due at "
                f"{first_due:%H:%M:%S}, last at {starts[-1] - timedelta(seconds=LEAD_S):%H:%M:%S}",
                flush=True,
            )
            deadline = starts[-1] - timedelta(seconds=LEAD_S) + timedelta(seconds=120)
            while datetime.now(UTC) < deadline:
                if await _sent(sessions) >= len(ids):
                    break
                await asyncio.sleep(2)
            async with sessions() as session:
                reminders = list(
                    (
                        await session.execute(
                            select(NotificationLog).where(
                                NotificationLog.event == f"appointment.reminder_{LEAD_S // 60}m",
                                NotificationLog.status == NotificationStatus.SENT,
                            )
                        )
                    ).scalars()
                )
        await engine.dispose()
    lateness = [
        (r.sent_at - r.scheduled_for).total_seconds() for r in reminders if r.sent_at and r.scheduled_for
    ]
    polling = [polling_lateness(r.scheduled_for) for r in reminders if r.scheduled_for]
    print(f"{len(lateness)} of {appointments} reminders sent, due at {rate:g}/s")
    for name, values in (
        ("Keeptime (durable timers)", lateness),
        ("5-minute polling, same due times", polling),
    ):
        print(
            f"{name:34} p50 {percentile(values, 0.5):7.2f} s   p99 {percentile(values, 0.99):7.2f} s   "
            f"max {max(values):7.2f} s   early {sum(x < 0 for x in values)}"
        )


async def _sent(sessions: SessionFactory) -> int:
    async with sessions() as session:
        query = (
            select(func.count())
            .select_from(NotificationLog)
            .where(
                NotificationLog.event.like("appointment.reminder%"),
                NotificationLog.status == NotificationStatus.SENT,
            )
        )
        return int((await session.execute(query)).scalar_one())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--appointments", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=2.5, help="reminders falling due per second")
    args = parser.parse_args()
    run_bench(main(args.appointments, args.rate))
    os._exit(0)
