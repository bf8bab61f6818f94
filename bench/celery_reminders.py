"""The predecessors' reminder design, built faithfully for ``bench/peer_celery.py``: Celery 5, beat, Redis.

The beauty backend ran ``check_and_send_reminders`` from Celery beat every 5 minutes: it selected confirmed
appointments starting inside a window (24-25 h ahead, and 2-2.5 h ahead) whose ``reminder_sent`` flag was
false, sent each reminder, then set the flag. Here the period and the window are scaled 60:1 (5 min -> 5 s,
the 1-hour window -> 60 s) and the window is placed so that a reminder is due at the same instant as in the
Keeptime run (``starts_at - LEAD``): a reminder goes out at the first beat tick after it is due, while it is
still inside the window. Sends go to the same peers as Keeptime's: SMS as a Twilio form POST, push as an FCM
v1 POST, e-mail over SMTP, each synchronously from the task, as the predecessor did.

Configured from the environment (``CHAOS_*``) by the benchmark, which starts ``celery worker`` and ``celery
beat`` as processes and kills them as it kills Keeptime's worker.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import smtplib
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from urllib.parse import urlencode

import asyncpg
from celery import Celery

PERIOD_S = float(os.environ.get("CHAOS_PERIOD_S", "5"))
WINDOW_S = float(os.environ.get("CHAOS_WINDOW_S", "60"))
LEAD_S = float(os.environ.get("CHAOS_LEAD_S", "60"))
REDIS = os.environ.get("CHAOS_REDIS_URL", "redis://127.0.0.1:6379/13")

app = Celery("predecessor_reminders", broker=REDIS)
app.conf.update(
    beat_schedule={"check-and-send-reminders": {"task": "check_and_send_reminders", "schedule": PERIOD_S}},
    task_acks_late=False,  # Celery's default, as the predecessor ran it
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS predecessor_appointments (
    id BIGINT PRIMARY KEY,
    channel TEXT NOT NULL,
    address TEXT NOT NULL,
    starts_at TIMESTAMPTZ NOT NULL,
    status TEXT NOT NULL,
    reminder_sent BOOLEAN NOT NULL DEFAULT false
);
CREATE INDEX IF NOT EXISTS predecessor_due ON predecessor_appointments (starts_at) WHERE NOT reminder_sent;
CREATE TABLE IF NOT EXISTS predecessor_scans (at TIMESTAMPTZ NOT NULL, rows_read INT NOT NULL);
"""


@app.task(name="check_and_send_reminders")  # type: ignore[untyped-decorator]
def check_and_send_reminders() -> int:
    return asyncio.run(_check())


async def _check() -> int:
    connection = await asyncpg.connect(os.environ["CHAOS_DATABASE_URL"])
    try:
        now = datetime.now(UTC)
        # Due (starts_at - LEAD <= now) and still inside the window: the predecessor's "24-25 h ahead".
        rows = await connection.fetch(
            "SELECT id, channel, address, starts_at FROM predecessor_appointments"
            " WHERE status = 'confirmed' AND NOT reminder_sent AND starts_at > $1 AND starts_at <= $2",
            now + timedelta(seconds=LEAD_S - WINDOW_S),
            now + timedelta(seconds=LEAD_S),
        )
        await connection.execute("INSERT INTO predecessor_scans VALUES ($1, $2)", now, len(rows))
        sent = 0
        for row in rows:
            try:
                await asyncio.to_thread(_send, row["channel"], row["address"], row["id"], row["starts_at"])
            except Exception:  # the predecessor logged and moved on: the next tick tries again
                continue
            await connection.execute(
                "UPDATE predecessor_appointments SET reminder_sent = true WHERE id = $1", row["id"]
            )
            sent += 1
        return sent
    finally:
        await connection.close()


def _send(channel: str, address: str, appointment_id: int, starts_at: datetime) -> None:
    text = f"Reminder #{appointment_id} for {starts_at.isoformat()}"
    base = os.environ["CHAOS_PEER_URL"]
    if channel == "email":
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = "salon@chaos.test", address, text
        message["X-Keeptime-Key"] = text
        message.set_content(text)
        with smtplib.SMTP("127.0.0.1", int(os.environ["CHAOS_SMTP_PORT"]), timeout=5) as smtp:
            smtp.send_message(message)
        return
    if channel == "sms":
        sid, token = os.environ["CHAOS_TWILIO_SID"], os.environ["CHAOS_TWILIO_TOKEN"]
        request = urllib.request.Request(
            f"{base}/2010-04-01/Accounts/{sid}/Messages.json",
            data=urlencode({"To": address, "From": "+15005550006", "Body": text}).encode(),
            headers={"Authorization": "Basic " + base64.b64encode(f"{sid}:{token}".encode()).decode()},
        )
    else:
        body = {
            "message": {"token": address, "notification": {"title": "Reminder", "body": text}, "data": {}}
        }
        request = urllib.request.Request(
            f"{base}/v1/projects/{os.environ['CHAOS_FCM_PROJECT']}/messages:send",
            data=json.dumps(body).encode(),
            headers={
                "Authorization": f"Bearer {os.environ['CHAOS_FCM_TOKEN']}",
                "Content-Type": "application/json",
            },
        )
    with urllib.request.urlopen(request, timeout=5) as response:
        response.read()
