"""End to end on the dev server, in real time with second-scale settings: the API books, the real worker
sends through the local SMS peer when each moment comes, the real `temporal` CLI cancels another
appointment by signal, and a visibility query with our search attribute finds it."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from db.engine import SessionFactory
from keeptime.settings import Settings
from tests.appointment_support import eventually
from tests.peers import ProviderPeer, SmtpPeer
from tests.support import running_worker

pytestmark = pytest.mark.e2e
Client = TestClient[web.Request, web.Application]
ADMIN = {"Authorization": "Bearer dev-admin-key"}
FAST = {
    "reminder_offsets_s": [8, 4],
    "reminder_cutoff_s": 1,
    "no_show_grace_s": 2,
    "auto_complete_delay_s": 1,
    "review_request_delay_s": 2,
    "review_reminder_delay_s": 2,
    "quiet_hours": {"start": "00:00", "end": "00:00"},
}


@pytest.fixture
async def api(
    provider_settings: Settings, dev_env: WorkflowEnvironment, sessions: SessionFactory
) -> AsyncIterator[Client]:
    settings = provider_settings.model_copy(
        update={"temporal_address": dev_env.client.service_client.config.target_host}
    )
    async with (
        running_worker(dev_env.client, sessions, settings),
        TestClient(TestServer(create_app(settings), host="127.0.0.1")) as client,
    ):
        yield client


def temporal_cli(address: str, *args: str) -> str:
    binary = str(Path(sys.executable).parent / "temporal")
    done = subprocess.run(
        [binary, *args, "--address", address], capture_output=True, text=True, timeout=30, check=True
    )
    return done.stdout


async def test_reminders_arrive_on_time_and_the_cli_cancels_and_finds(
    api: Client, dev_env: WorkflowEnvironment, peers: tuple[SmtpPeer, ProviderPeer]
) -> None:
    _, sms = peers
    business = {"name": "Trattoria", "time_zone": "Europe/Rome", "automation": FAST}
    created = await (await api.post("/v1/businesses", json=business, headers=ADMIN)).json()
    auth = {"Authorization": f"Bearer {created['api_key']}"}
    guest = {"name": "Gio Rossi", "phone": "+393331234567", "sms_opted_in": True}
    customer = await (await api.post("/v1/customers", json=guest, headers=auth)).json()
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=14)

    async def book(at: datetime) -> dict[str, Any]:
        body = {
            "customer_id": customer["id"],
            "starts_at": at.isoformat(),
            "ends_at": (at + timedelta(seconds=3)).isoformat(),
        }
        response = await api.post("/v1/appointments", json=body, headers=auth)
        assert response.status == 201, await response.text()
        return dict(await response.json())

    dinner, lunch = await book(start), await book(start + timedelta(minutes=10))
    address = dev_env.client.service_client.config.target_host
    signal = ["workflow", "signal", "--workflow-id", lunch["workflow_id"], "--name", "cancel", "--input"]
    reason = json.dumps({"reason": "called the restaurant", "by": "operator"})
    await asyncio.to_thread(temporal_cli, address, *signal, reason)

    async def sent(event_fragment: str) -> bool:
        return any(event_fragment in e["form"]["Body"] for e in sms.accepted["sms"])

    await eventually(lambda: sent("Reminder"), timeout_s=20, what="the first reminder")
    await eventually(lambda: _count(sms, "Reminder", 2), timeout_s=20, what="the second reminder")
    reminders = [e["at"] for e in sms.accepted["sms"] if "Reminder" in e["form"]["Body"]]
    for arrived, offset in zip(reminders, (8, 4), strict=True):
        due = start - timedelta(seconds=offset)
        assert due <= arrived < due + timedelta(seconds=5), (offset, due, arrived)

    await asyncio.sleep(max(0.0, (start - datetime.now(UTC)).total_seconds()))  # the dinner has begun
    checked_in = await api.post(f"/v1/appointments/{dinner['id']}/check-in", headers=auth)
    assert checked_in.status == 200, await checked_in.text()
    await eventually(lambda: sent("Rate your"), timeout_s=20, what="the review request")
    await eventually(lambda: sent("a minute to rate"), timeout_s=20, what="the review reminder")
    shown = await (await api.get(f"/v1/appointments/{dinner['id']}", headers=auth)).json()
    assert shown["status"] == "completed"

    cancelled = await (await api.get(f"/v1/appointments/{lunch['id']}", headers=auth)).json()
    assert cancelled["status"] == "cancelled" and cancelled["cancel_reason"] == "called the restaurant"
    lunch_log = {(n["event"], n["status"], n["reason"]) for n in cancelled["notifications"]}
    assert lunch_log == {
        ("appointment.booked", "sent", None),
        ("appointment.admin_new_booking", "skipped", "no_channel"),  # this business gave no admin e-mail
        ("appointment.cancelled", "sent", None),
    }

    async def listed() -> bool:
        out = await asyncio.to_thread(
            temporal_cli, address, "workflow", "list", "--query", 'KeeptimeStatus="cancelled"', "-o", "json"
        )
        return lunch["workflow_id"] in out and dinner["workflow_id"] not in out

    await eventually(listed, timeout_s=15, what="the visibility query to find the cancelled appointment")


async def _count(peer: ProviderPeer, fragment: str, n: int) -> bool:
    return sum(fragment in e["form"]["Body"] for e in peer.accepted["sms"]) >= n
