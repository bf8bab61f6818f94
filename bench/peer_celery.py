"""Keeptime beside the predecessors' Celery beat design: the same reminders, sink and faults, side by side.

    .venv/bin/python -m bench.peer_celery [--appointments 500] [--spread 100]

Runs ``bench.chaos`` for Keeptime (SMS through a Twilio-shaped peer, as the predecessors used Twilio), then
the predecessor built with Celery 5 and beat on the local Redis (``bench/celery_reminders.py``: a scan every
5 s for due, unsent reminders inside a 60 s window, a ``reminder_sent`` flag; the predecessor's 5 minutes and
1-hour window scaled 60:1), against the same appointments (one reminder each, the same due instants, the
same 5% cancelled and 5% rescheduled five seconds before), fresh peers that fail, throttle and lose answers
alike, and the same faults: its worker and beat SIGKILLed three times, PostgreSQL restarted once. Prints one
table: lateness, missing, duplicates, sends after a cancel or for an old slot, rows read per reminder sent.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import redis

from bench import celery_reminders
from bench.chaos import run_keeptime
from bench.chaos_report import (
    CHANNELS,
    Expectations,
    Summary,
    near_fault,
    print_summaries,
    summarize,
    wide_chaos,
)
from bench.common import run_bench
from bench.stack_processes import ChildProcess, restart_postgres
from db.embedded import EmbeddedPostgres, ensure_database
from keeptime.settings import to_asyncpg_url
from tests.peers import FCM_PROJECT, FCM_TOKEN, TWILIO_SID, TWILIO_TOKEN, ProviderPeer, SmtpPeer
from tests.support import database_url_named

LEAD_S = 60
WARMUP_S = 15
TEXT = re.compile(r"Reminder #(\d+) for (\S+)")


@dataclass
class Row:
    id: int
    channel: str
    address: str
    starts_at: datetime
    steer: str | None
    steered_at: datetime | None = None


async def _seed(connection: asyncpg.Connection, appointments: int, spread: float) -> list[Row]:
    first_due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=WARMUP_S)
    rng = random.Random(2026)  # the same draw as bench.chaos: the same 5% cancelled, 5% rescheduled
    rows = []
    for n in range(appointments):
        channel = CHANNELS[n % len(CHANNELS)]
        address = {"sms": f"+4915{n:09d}", "push": f"token-{n}", "email": f"guest{n}@chaos.test"}[channel]
        starts = first_due + timedelta(seconds=round(spread * n / appointments) + LEAD_S)
        roll = rng.random()
        rows.append(
            Row(
                n + 1,
                channel,
                address,
                starts,
                "cancel" if roll < 0.05 else "reschedule" if roll < 0.1 else None,
            )
        )
    await connection.executemany(
        "INSERT INTO predecessor_appointments (id, channel, address, starts_at, status)"
        " VALUES ($1, $2, $3, $4, 'confirmed')",
        [(r.id, r.channel, r.address, r.starts_at) for r in rows],
    )
    return rows


async def _steer(url: str, rows: list[Row]) -> None:
    async def one(row: Row) -> None:
        moment = row.starts_at - timedelta(seconds=LEAD_S + 5)
        await asyncio.sleep(max(0.0, (moment - datetime.now(UTC)).total_seconds()))
        for _ in range(30):  # PostgreSQL may be restarting right now: an operator would retry
            try:
                connection = await asyncpg.connect(url)
                try:
                    if row.steer == "cancel":
                        await connection.execute(
                            "UPDATE predecessor_appointments SET status = 'cancelled' WHERE id = $1", row.id
                        )
                    else:
                        await connection.execute(
                            "UPDATE predecessor_appointments"
                            " SET starts_at = starts_at + interval '90 seconds' WHERE id = $1",
                            row.id,
                        )
                finally:
                    await connection.close()
                row.steered_at = datetime.now(UTC)
                return
            except (OSError, asyncpg.PostgresError):
                await asyncio.sleep(1)

    await asyncio.gather(*(one(row) for row in rows if row.steer))


async def _faults(
    processes: list[ChildProcess], postgres: EmbeddedPostgres | None, first_due: datetime, spread: float
) -> list[tuple[datetime, str]]:
    faults: list[tuple[datetime, str]] = []
    for fraction, what in ((0.2, "worker"), (0.35, "postgres"), (0.5, "worker"), (0.8, "worker")):
        moment = first_due + timedelta(seconds=spread * fraction)
        await asyncio.sleep(max(0.0, (moment - datetime.now(UTC)).total_seconds()))
        if what == "worker":
            for process in processes:
                process.kill()
            faults.append((datetime.now(UTC), "Celery worker and beat SIGKILL"))
            await asyncio.sleep(1)
            for process in processes:
                process.start()
        elif postgres is not None:
            await asyncio.to_thread(restart_postgres, postgres)
            faults.append((datetime.now(UTC), "PostgreSQL restarted"))
    return faults


def _deliveries(smtp: SmtpPeer, peer: ProviderPeer) -> list[tuple[str, datetime]]:
    texts = [(str(m["Subject"]), at) for m, at in zip(smtp.messages, smtp.received_at, strict=True)]
    texts += [(str(e["form"]["Body"]), e["at"]) for e in peer.accepted["sms"]]
    texts += [(str(e["json"]["message"]["notification"]["body"]), e["at"]) for e in peer.accepted["push"]]
    found = []
    for text, at in texts:
        match = TEXT.search(text)
        if match:
            found.append((f"{match.group(1)}@{match.group(2)}", at))
    return found


async def run_celery(appointments: int, spread: float) -> Summary:
    root = Path(tempfile.mkdtemp(prefix="kt-celery-", dir="/tmp"))
    postgres: EmbeddedPostgres | None = None
    if os.environ.get("DATABASE_URL"):
        url = database_url_named(to_asyncpg_url(os.environ["DATABASE_URL"]), f"predecessor_{os.getpid()}")
    else:
        postgres = await asyncio.to_thread(EmbeddedPostgres, root / "pgdata", delete_on_stop=True)
        url = postgres.url("predecessor")
    await ensure_database(url)
    plain_url = url.replace("postgresql+asyncpg://", "postgresql://")
    connection = await asyncpg.connect(plain_url)
    await connection.execute(celery_reminders.SCHEMA)
    rows = await _seed(connection, appointments, spread)
    await connection.close()
    redis.Redis.from_url(celery_reminders.REDIS).flushdb()
    smtp, peer = SmtpPeer(lose_rate=0.03), ProviderPeer()
    smtp.start()
    await peer.start()
    peer.chaos = wide_chaos()
    env = {
        "CHAOS_DATABASE_URL": plain_url,
        "CHAOS_PEER_URL": peer.base_url,
        "CHAOS_SMTP_PORT": str(smtp.port),
        "CHAOS_TWILIO_SID": TWILIO_SID,
        "CHAOS_TWILIO_TOKEN": TWILIO_TOKEN,
        "CHAOS_FCM_PROJECT": FCM_PROJECT,
        "CHAOS_FCM_TOKEN": FCM_TOKEN,
        "CHAOS_LEAD_S": str(LEAD_S),
    }
    celery = [sys.executable, "-m", "celery", "-A", "bench.celery_reminders"]
    worker = ChildProcess(
        [*celery, "worker", "--concurrency", "2", "--loglevel", "WARNING"], env, root / "w.log"
    )
    beat = ChildProcess(
        [*celery, "beat", "--schedule", str(root / "beat-schedule"), "--loglevel", "WARNING"],
        env,
        root / "b.log",
    )
    worker.start()
    beat.start()
    first_due = min(r.starts_at for r in rows) - timedelta(seconds=LEAD_S)
    try:
        results = await asyncio.gather(
            _faults([worker, beat], postgres, first_due, spread), _steer(plain_url, rows)
        )
        faults = results[0]
        last = max(r.starts_at for r in rows) + timedelta(seconds=90 - LEAD_S)
        await asyncio.sleep(max(0.0, (last - datetime.now(UTC)).total_seconds()) + 60)
        connection = await asyncpg.connect(plain_url)
        rows_read = int(
            await connection.fetchval("SELECT coalesce(sum(rows_read), 0) FROM predecessor_scans")
        )
        await connection.close()
    finally:
        worker.stop()
        beat.stop()
        await peer.stop()
        smtp.stop()
    expected = Expectations(due={}, channel={}, forbidden_after={})
    for row in rows:
        original = f"{row.id}@{row.starts_at.isoformat()}"
        expected.channel[original] = row.channel
        if row.steer == "cancel":
            expected.forbidden_after[original] = ("after cancel", row.steered_at or row.starts_at)
            continue
        final_start = row.starts_at + timedelta(seconds=90) if row.steer == "reschedule" else row.starts_at
        final = f"{row.id}@{final_start.isoformat()}"
        expected.channel[final] = row.channel
        expected.due[final] = final_start - timedelta(seconds=LEAD_S)
        if row.steer == "reschedule":
            expected.forbidden_after[original] = ("old slot", row.steered_at or row.starts_at)
    fault_times = [moment for moment, _ in faults]
    summary = summarize(
        "Celery beat (predecessor)",
        expected,
        _deliveries(smtp, peer),
        clean={key for key, at in expected.due.items() if not near_fault(at, fault_times)},
    )
    summary.rows_read = rows_read
    summary.faults = [f"{what} at +{(moment - first_due).total_seconds():.0f} s" for moment, what in faults]
    if postgres is not None:
        postgres.stop()
    shutil.rmtree(root, ignore_errors=True)
    return summary


async def main(appointments: int, spread: float) -> None:
    keeptime = await run_keeptime(appointments, spread, "twilio")
    predecessor = await run_celery(appointments, spread)
    print(
        f"\n{appointments} reminders due over {spread:.0f} s, one fault schedule, "
        "peers that never deduplicate"
    )
    print_summaries([keeptime, predecessor])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--appointments", type=int, default=500)
    parser.add_argument("--spread", type=float, default=100.0)
    options = parser.parse_args()
    run_bench(main(options.appointments, options.spread))
