"""The example receiver (examples/receiver.py) against the whole stack, through the typed client (issue 33):
book through the client, receive appointment.booked and then notification.sent signed, and a duplicate
delivery (a replay) changes nothing."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import keeptime_client
import pytest
from temporalio.testing import WorkflowEnvironment

from domain.task_queues import MAINTENANCE
from domain.webhooks import RelayWebhooksInput
from tests.appointment_support import eventually
from tests.support import free_port
from tests.test_api_appointments import Client, slot, tenant
from workflows.webhooks import WebhookRelayWorkflow

ROOT = Path(__file__).resolve().parent.parent


class Running:
    def __init__(self, url: str) -> None:
        self.url = url

    async def seen(self) -> dict[str, Any]:
        async with aiohttp.ClientSession() as http, http.get(f"{self.url}/processed") as answer:
            body: dict[str, Any] = await answer.json()
            return body


@pytest.mark.e2e
async def test_the_example_receiver_gets_a_booking_and_its_confirmation_once_each(
    api: Client, dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    auth, customer_id = await tenant(api)
    key = auth["Authorization"].removeprefix("Bearer ")
    async with keeptime_client.Keeptime(str(api.make_url("")).rstrip("/"), key) as kt:
        port = free_port()
        endpoint = await kt.create_webhook_endpoint(
            f"http://127.0.0.1:{port}/keeptime", event_types=["appointment.booked", "notification.sent"]
        )
        assert endpoint["secret"] is not None
        with pytest.raises(keeptime_client.NotFound) as unknown:
            when = slot()
            await kt.book_appointment(
                customer_id=999_999_999, starts_at=when["starts_at"], ends_at=when["ends_at"]
            )
        assert unknown.value.field == "customer_id"
        async with _receiver_on(port, endpoint["secret"], tmp_path / "receiver.sqlite") as receiver:
            relay = await dev_env.client.start_workflow(
                WebhookRelayWorkflow.run,
                RelayWebhooksInput(run_for_s=120, poll_s=0.1),
                id=f"test-webhook-relay-{uuid.uuid4()}",
                task_queue=MAINTENANCE,
            )
            try:
                booked = await kt.book_appointment(
                    customer_id=customer_id,
                    starts_at=when["starts_at"],
                    ends_at=when["ends_at"],
                    external_id="pms-1",
                )

                async def both() -> bool:
                    types = [e["type"] for e in (await receiver.seen())["processed"]]
                    return "appointment.booked" in types and "notification.sent" in types

                await eventually(both, timeout_s=60, what="appointment.booked and notification.sent")
                first = (await receiver.seen())["processed"]
                booked_event = next(e for e in first if e["type"] == "appointment.booked")
                assert booked_event["entity"] == f"appointment:{booked['id']}"
                assert await kt.replay_events(endpoint["id"], event_id=booked_event["id"]) == 1

                async def duplicate_ignored() -> bool:
                    return booked_event["id"] in (await receiver.seen())["duplicates"]

                await eventually(duplicate_ignored, timeout_s=30, what="the replayed delivery")

                async def both_recorded() -> bool:  # the receiver answers before the attempt is written
                    attempts = await kt.webhook_attempts(endpoint["id"])
                    return [a["event_id"] for a in attempts].count(booked_event["id"]) == 2

                await eventually(both_recorded, timeout_s=30, what="both attempts in the delivery log")
            finally:
                await relay.terminate("test over")
            after = (await receiver.seen())["processed"]
            assert [e["id"] for e in after].count(booked_event["id"]) == 1  # acted on once
        # The booked event's two attempts (the delivery, the replay), both taken. Only its: a terminated
        # relay's activity runs on until its next heartbeat tells it, and may try a later event (the
        # admin's notification.sent) against the receiver stopped above, a failed attempt that is correct.
        attempts = await kt.webhook_attempts(endpoint["id"])
        assert [a["ok"] for a in attempts if a["event_id"] == booked_event["id"]] == [True, True], attempts


@contextlib.asynccontextmanager
async def _receiver_on(port: int, secret: str, db: Path) -> AsyncIterator[Running]:
    """examples/receiver.py as its own process, as a business would run it."""
    script = str(ROOT / "examples" / "receiver.py")
    process = await asyncio.create_subprocess_exec(
        sys.executable, script, "--secret", secret, "--port", str(port), "--db", str(db)
    )
    running = Running(f"http://127.0.0.1:{port}")

    async def up() -> bool:
        try:
            await running.seen()
        except aiohttp.ClientError:
            return False
        return True

    try:
        await eventually(up, timeout_s=20, what="the example receiver")
        yield running
    finally:
        process.terminate()
        await process.wait()
