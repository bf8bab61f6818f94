"""Chaos: due reminders through worker SIGKILLs, Temporal and PostgreSQL restarts and failing providers.

    .venv/bin/python -m bench.chaos [--appointments 1000] [--spread 180] [--sms telnyx|twilio]

N confirmed appointments, one customer each, round-robin on SMS, push and e-mail; one reminder each, due at
second-scale offsets spread over ``--spread`` seconds. 5% are cancelled and 5% rescheduled (+90 s) five
seconds before their reminder. While they fire: the worker process is SIGKILLed three times (restarted a
second later), the embedded PostgreSQL is restarted once (``pg_ctl restart -m fast``; skipped on an external
DATABASE_URL) and the Temporal dev server once (its state is a file); the peers run ``wide_chaos()``
(bench/chaos_report.py): 503, 429, drops before accepting; after accepting, lost answers, gateway 500/502/504
and answers past the provider timeout; Twilio receipts late or never.
The peers record every delivery raw and never deduplicate, except Telnyx's documented ``Idempotency-Key``.

Prints: due, delivered, missing, raw duplicates per channel (and how many of them a ``prefer_duplicate``
resolution chose and recorded), sent after a cancel, sent for an old slot after a reschedule, the ambiguous
attempts by resolution, and due -> delivered lateness p50/p95/p99/max overall and for messages not due
near a process fault (the same set on both sides of the Celery comparison, peer faults included).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from aiohttp import web
from sqlalchemy import select
from temporalio.client import Client

from activities.providers import telnyx_key
from api.app import create_app
from bench.chaos_report import Expectations, Summary, near_fault, print_summaries, summarize, wide_chaos
from bench.common import run_bench
from bench.environment import BenchEnvironment, bench_environment
from bench.stack_processes import TemporalServer, WorkerProcess, restart_postgres
from db.appointments import appointment_snapshot
from db.embedded import EmbeddedPostgres
from db.engine import SessionFactory, is_database_unavailable
from db.models import Appointment, Business, Customer, NotificationLog
from domain.appointment_timeline import offset_label
from domain.appointment_types import CancelInput, RescheduleInput
from domain.automation import AutomationSettings, QuietHours
from domain.notification_types import NotificationRequest
from domain.statuses import AppointmentStatus
from keeptime.settings import Settings
from services.appointments import cancel_and_wait, steer
from tests.peers import (
    FCM_PROJECT,
    FCM_TOKEN,
    TELNYX_KEY,
    TWILIO_SID,
    TWILIO_TOKEN,
    ProviderPeer,
    SmtpPeer,
)
from tests.support import free_port
from workflows.appointment import AppointmentWorkflow
from workflows.starts import ensure_workflow

LEAD_S = 60  # the reminder offset: each reminder is due a minute before its appointment
WARMUP_S = 60  # from the first booking to the first due reminder (1,000 workflows start meanwhile)
CHANNELS = ("sms", "push", "email")


@dataclass
class Plan:
    appointment_id: int
    customer_id: int
    channel: str
    starts_at: datetime
    steer: str | None = None  # "cancel" | "reschedule"


@dataclass
class Run:
    plans: list[Plan] = field(default_factory=list)
    faults: list[tuple[datetime, str]] = field(default_factory=list)
    first_due: datetime | None = None


def settings_env(
    url: str, temporal: TemporalServer, smtp: SmtpPeer, peer: ProviderPeer, sms: str, api_base: str
) -> dict[str, str]:
    return {
        "DATABASE_URL": url,
        "TEMPORAL_ADDRESS": temporal.address,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp.port),
        "SMTP_STARTTLS": "false",
        "SMS_PROVIDER": sms,
        "TWILIO_BASE_URL": peer.base_url,
        "TWILIO_ACCOUNT_SID": TWILIO_SID,
        "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "TWILIO_FROM_NUMBER": "+15005550006",
        "TELNYX_BASE_URL": peer.base_url,
        "TELNYX_API_KEY": TELNYX_KEY,
        "TELNYX_FROM_NUMBER": "+15005550007",
        "FCM_BASE_URL": peer.base_url,
        "FCM_PROJECT_ID": FCM_PROJECT,
        "FCM_ACCESS_TOKEN": FCM_TOKEN,
        "PUBLIC_BASE_URL": api_base,  # the API below: Twilio's status callbacks (receipts) reach it
        "AMBIGUOUS_WAIT_S": "20",
        "PROVIDER_TIMEOUT_S": "5",
        "SMS_RATE_PER_S": "200",
        "PUSH_RATE_PER_S": "500",
        "EMAIL_RATE_PER_S": "200",
        "LOG_LEVEL": "WARNING",
    }


async def seed_appointments(
    sessions: SessionFactory,
    client: Client,
    appointments: int,
    spread: float,
    warmup_s: float = WARMUP_S,
    booking_rate: float | None = None,
) -> list[Plan]:
    """Book ``appointments`` whose reminders fall due over ``spread`` seconds from ``warmup_s`` on, and start
    their workflows: as fast as the server takes them, or ``booking_rate`` a second (a steady load books at a
    steady rate too: a reminder's timer is set by the workflow task that booked it, so how busy the worker was
    then moves the timer)."""
    automation = AutomationSettings(
        reminder_offsets_s=[LEAD_S],
        reminder_cutoff_s=5,
        quiet_hours=QuietHours(start=datetime.min.time(), end=datetime.min.time()),
        notify_admin_on_booking=False,
    )
    first_due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=warmup_s)
    rng = random.Random(2026)
    async with sessions() as session:
        business = Business(
            name="Chaos Salon", time_zone="UTC", automation=automation.model_dump(mode="json")
        )
        session.add(business)
        await session.flush()
        plans: list[Plan] = []
        for n in range(appointments):
            channel = CHANNELS[n % len(CHANNELS)]
            customer = Customer(
                business_id=business.id,
                name=f"Guest {n}",
                email=f"guest{n}@chaos.test",
                phone=f"+4915{n:09d}",
                push_token=f"token-{n}",
                channel_order=[channel],
                sms_opted_in=True,
            )
            session.add(customer)
            await session.flush()
            due = first_due + timedelta(seconds=round(spread * n / appointments))
            starts = due + timedelta(seconds=LEAD_S)
            row = Appointment(
                business_id=business.id,
                customer_id=customer.id,
                status=AppointmentStatus.CONFIRMED,
                starts_at=starts,
                ends_at=starts + timedelta(minutes=30),
                service="Cut",
            )
            session.add(row)
            await session.flush()
            roll = rng.random()
            steer_kind = "cancel" if roll < 0.05 else "reschedule" if roll < 0.10 else None
            plans.append(Plan(row.id, customer.id, channel, starts, steer_kind))
        await session.commit()
    paced: list[asyncio.Task[object]] = []
    started = time.monotonic()
    for chunk in range(0, len(plans), 50):
        async with sessions() as session:
            rows = [await session.get(Appointment, p.appointment_id) for p in plans[chunk : chunk + 50]]
            snapshots = [await appointment_snapshot(session, row) for row in rows if row is not None]
        if booking_rate is None:
            await asyncio.gather(*(ensure_workflow(client, snapshot) for snapshot in snapshots))
            continue
        for n, snapshot in enumerate(snapshots, start=chunk):
            await asyncio.sleep(max(0.0, started + n / booking_rate - time.monotonic()))
            paced.append(asyncio.create_task(ensure_workflow(client, snapshot)))
    await asyncio.gather(*paced)
    return plans


async def _steer_all(client: Client, plans: list[Plan]) -> None:
    async def one(plan: Plan) -> None:
        due = plan.starts_at - timedelta(seconds=LEAD_S)
        await asyncio.sleep(max(0.0, (due - timedelta(seconds=5) - datetime.now(UTC)).total_seconds()))
        for _ in range(30):  # the worker or Temporal may be down right now: an operator would retry
            try:
                if plan.steer == "cancel":
                    await cancel_and_wait(client, plan.appointment_id, CancelInput(reason="chaos"), wait_s=5)
                else:
                    later = plan.starts_at + timedelta(seconds=90)
                    change = RescheduleInput(starts_at=later, ends_at=later + timedelta(minutes=30))
                    await steer(
                        client,
                        plan.appointment_id,
                        AppointmentWorkflow.reschedule,
                        change,
                        wait=timedelta(seconds=5),
                    )
                return
            except Exception:
                await asyncio.sleep(1)

    await asyncio.gather(*(one(plan) for plan in plans if plan.steer))


async def _faults(
    run: Run,
    worker: WorkerProcess,
    temporal: TemporalServer,
    postgres: EmbeddedPostgres | None,
    first_due: datetime,
    spread: float,
) -> None:
    async def at(fraction: float) -> None:
        moment = first_due + timedelta(seconds=spread * fraction)
        await asyncio.sleep(max(0.0, (moment - datetime.now(UTC)).total_seconds()))

    async def note(what: str) -> None:
        run.faults.append((datetime.now(UTC), what))

    for fraction, what in (
        (0.2, "worker"),
        (0.35, "postgres"),
        (0.5, "worker"),
        (0.65, "temporal"),
        (0.8, "worker"),
    ):
        await at(fraction)
        if what == "worker":
            worker.kill()
            await note("worker SIGKILL")
            await asyncio.sleep(1)
            worker.start()
        elif what == "postgres":
            if postgres is None:
                await note("PostgreSQL restart skipped (external DATABASE_URL)")
                continue
            await asyncio.to_thread(restart_postgres, postgres)
            await note("PostgreSQL restarted")
        else:
            await temporal.restart()
            await note("Temporal dev server restarted")
            if not worker.alive():  # a worker whose server vanished may exit (issue 14): start it again
                worker.start()


def delivery_keys(
    smtp: SmtpPeer, peer: ProviderPeer, by_telnyx_hash: dict[str, str], by_log_id: dict[str, str]
) -> list[tuple[str, datetime]]:
    """(idempotency key, when) of every raw delivery the peers saw."""
    found: list[tuple[str, datetime]] = []
    for message, at in zip(smtp.messages, smtp.received_at, strict=True):
        found.append((str(message["X-Keeptime-Key"]), at))
    for entry in peer.accepted["sms"]:
        if entry.get("provider") == "telnyx":
            found.append((by_telnyx_hash.get(entry["key"], "?"), entry["at"]))
        else:
            callback = urlsplit(str(entry["form"].get("StatusCallback", "")))
            found.append((by_log_id.get(parse_qs(callback.query).get("log", ["?"])[0], "?"), entry["at"]))
    for entry in peer.accepted["push"]:
        found.append((entry["json"]["message"]["data"]["idempotency_key"], entry["at"]))
    return found


def message_key(plan: Plan, business_id: int, starts_at: datetime, version: int) -> str:
    request = NotificationRequest(
        business_id=business_id,
        entity_type="appointment",
        entity_id=plan.appointment_id,
        event="appointment.reminder",
        variant=offset_label(LEAD_S),
        customer_id=plan.customer_id,
        scheduled_for=starts_at - timedelta(seconds=LEAD_S),
        entity_version=version,
    )
    return request.idempotency_key(plan.channel)


async def _report(sessions: SessionFactory, run: Run, smtp: SmtpPeer, peer: ProviderPeer) -> Summary:
    for attempt in range(3):  # the pool may still hold a connection from before the PostgreSQL restart
        try:
            async with sessions() as session:
                rows = {a.id: a for a in (await session.execute(select(Appointment))).scalars()}
                logs = list((await session.execute(select(NotificationLog))).scalars())
            break
        except Exception as exc:  # the first use after a restart fails once, then the pool is fresh
            if attempt == 2 or not is_database_unavailable(exc):
                raise
            await asyncio.sleep(1)
    business_id = next(iter(rows.values())).business_id
    expected = Expectations(due={}, channel={}, forbidden_after={})
    for plan in run.plans:
        row = rows[plan.appointment_id]
        original = message_key(plan, business_id, plan.starts_at, 1)
        expected.channel[original] = plan.channel
        if row.status == AppointmentStatus.CANCELLED:
            assert row.status_changed_at is not None
            expected.forbidden_after[original] = ("after cancel", row.status_changed_at)
            continue
        final = message_key(plan, business_id, row.starts_at, row.version)
        expected.channel[final] = plan.channel
        expected.due[final] = row.starts_at - timedelta(seconds=LEAD_S)
        if row.version > 1:
            expected.forbidden_after[original] = ("old slot", row.updated_at)
    hashes = {telnyx_key(key): key for key in expected.channel}
    fault_times = [moment for moment, _ in run.faults]
    summary = summarize(
        "Keeptime",
        expected,
        delivery_keys(smtp, peer, hashes, {str(log.id): log.idempotency_key for log in logs}),
        # The same set as the Celery side's: every message not due near a process fault, peer faults
        # included (it used to leave out every retried message here, and the Celery side did not).
        clean={k for k, at in expected.due.items() if not near_fault(at, fault_times)},
        chose_duplicate={log.idempotency_key for log in logs if "prefer_duplicate" in (log.resolution or "")},
    )
    summary.ambiguous = Counter((log.resolution or "").split(" -> ", 1)[-1] for log in logs if log.resolution)
    start = run.first_due or datetime.now(UTC)
    summary.faults = [f"{what} at +{(moment - start).total_seconds():.0f} s" for moment, what in run.faults]
    # Telnyx does not document a second request with a key while the first is still being answered; the
    # peer makes a second message then (its raw duplicates count it too): Keeptime should never send one.
    summary.faults.append(f"SMS requests with a key still being answered: {peer.concurrent_same_key}")
    return summary


async def run_keeptime(appointments: int, spread: float, sms: str) -> Summary:
    """One chaos run of Keeptime (SMS through ``sms``), counted."""
    smtp, peer = SmtpPeer(lose_rate=0.03), ProviderPeer()
    async with bench_environment("chaos", smtp, peer) as env:
        peer.chaos = wide_chaos()
        api_port = free_port()
        api_base = f"http://127.0.0.1:{api_port}"
        environment = settings_env(env.url, env.temporal, smtp, peer, sms, api_base)
        worker = WorkerProcess(environment, env.root / "worker.log")
        worker.start()
        api_settings = Settings.model_validate({k.lower(): v for k, v in environment.items()})
        api = web.AppRunner(create_app(api_settings))
        await api.setup()
        await web.TCPSite(api, "127.0.0.1", api_port).start()
        peer.callbacks = api_base
        try:
            return await _chaos_run(env, worker, appointments, spread, sms)
        finally:
            await api.cleanup()
            worker.stop()


async def _chaos_run(
    env: BenchEnvironment, worker: WorkerProcess, appointments: int, spread: float, sms: str
) -> Summary:
    run = Run()
    client = await env.temporal.connect()
    began = time.monotonic()
    run.plans = await seed_appointments(env.sessions, client, appointments, spread)
    first_due = min(p.starts_at for p in run.plans) - timedelta(seconds=LEAD_S)
    run.first_due = first_due
    print(
        f"{appointments} appointments booked in {time.monotonic() - began:.0f} s; reminders due from "
        f"{first_due:%H:%M:%S} over {spread:.0f} s; SMS via {sms}",
        flush=True,
    )
    await asyncio.gather(
        _faults(run, worker, env.temporal, env.postgres, first_due, spread),
        _steer_all(client, run.plans),
    )
    last_due = max(p.starts_at for p in run.plans) + timedelta(seconds=90 - LEAD_S)
    await asyncio.sleep(max(0.0, (last_due - datetime.now(UTC)).total_seconds()) + 60)
    return await _report(env.sessions, run, env.smtp, env.peer)


async def main(appointments: int, spread: float, sms: str) -> None:
    print_summaries([await run_keeptime(appointments, spread, sms)])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--appointments", type=int, default=1000)
    parser.add_argument("--spread", type=float, default=180.0, help="seconds over which reminders fall due")
    parser.add_argument("--sms", choices=("telnyx", "twilio"), default="telnyx")
    options = parser.parse_args()
    run_bench(main(options.appointments, options.spread, options.sms))
