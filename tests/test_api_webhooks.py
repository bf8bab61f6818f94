"""Webhook endpoints through the real HTTP API and the relay on the dev server (issue 33): a booking reaches
the business's receiver as appointment.booked and then notification.sent, signed; every edge of the
endpoint routes is a 4xx naming the field; a repeat does what it did once."""

from __future__ import annotations

import uuid
from typing import Any

import standardwebhooks
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from domain.task_queues import MAINTENANCE
from domain.webhooks import RelayWebhooksInput
from keeptime.settings import Settings
from tests.appointment_support import eventually
from tests.test_api_appointments import Client, book, tenant
from tests.webhook_support import receiving
from workflows.webhooks import WebhookRelayWorkflow


async def _json(answer: Any, status: int) -> Any:
    assert answer.status == status, await answer.text()
    return await answer.json()


def _field(body: dict[str, Any]) -> str:
    return str(body["fields"][0]["field"])


async def test_a_booking_reaches_the_receiver_booked_then_sent_signed(
    api: Client, dev_env: WorkflowEnvironment
) -> None:
    auth, customer_id = await tenant(api)
    async with receiving() as receiver:
        endpoint = await _json(
            await api.post("/v1/webhook-endpoints", json={"url": receiver.url("desk")}, headers=auth), 201
        )
        assert endpoint["secret"].startswith("whsec_")
        relay = await dev_env.client.start_workflow(
            WebhookRelayWorkflow.run,
            RelayWebhooksInput(run_for_s=120, poll_s=0.1),
            id=f"test-webhook-relay-{uuid.uuid4()}",
            task_queue=MAINTENANCE,
        )
        try:
            booked = await book(api, auth, customer_id)

            async def confirmation_told() -> bool:
                return "notification.sent" in [r.event["type"] for r in receiver.on("desk")]

            await eventually(confirmation_told, timeout_s=60, what="the confirmation's event")
        finally:
            await relay.terminate("test over")
        verifier = standardwebhooks.Webhook(endpoint["secret"])
        events = [verifier.verify(r.body, r.headers) for r in receiver.on("desk")]
        assert (
            events[0]["type"] == "appointment.booked" and events[0]["data"]["appointment_id"] == booked["id"]
        )
        sent = next(e for e in events if e["type"] == "notification.sent")
        assert sent["data"]["about"] == f"appointment:{booked['id']}"
        assert "phone" not in str(sent) and "Mia" not in str(sent)  # ids, never personal data
        path = f"/v1/webhook-endpoints/{endpoint['id']}/attempts"
        log: dict[str, Any] = {}

        async def logged() -> bool:  # the outcome is written just after the receiver answers
            log.update(await _json(await api.get(path, headers=auth), 200))
            return {a["event_id"] for a in log["items"]} >= {events[0]["id"], sent["id"]}

        await eventually(logged, what="both attempts in the delivery log")
        assert all(a["ok"] and a["status_code"] == 204 for a in log["items"])
        feed = await _json(await api.get("/v1/events", headers=auth), 200)
        assert [e["id"] for e in feed["items"]][: len(events)] == [e["id"] for e in events]


async def test_endpoint_routes_answer_each_edge_with_the_field_and_repeat_once(api: Client) -> None:
    auth, _ = await tenant(api)
    other, _ = await tenant(api)
    body = {"url": "http://127.0.0.1:9/hook", "description": "CRM", "event_types": ["appointment.booked"]}
    first = await _json(await api.post("/v1/webhook-endpoints", json=body, headers=auth), 201)
    again = await _json(await api.post("/v1/webhook-endpoints", json=body, headers=auth), 200)
    assert again["id"] == first["id"] and again["secret"] == first["secret"]  # the repeat answers the same
    changed = {**body, "description": "another"}
    assert (
        _field(await _json(await api.post("/v1/webhook-endpoints", json=changed, headers=auth), 409)) == "url"
    )
    for bad, field in (
        ({"url": "ftp://example.com/hook"}, "url"),
        ({"url": "http://user:pw@127.0.0.1/hook"}, "url"),
        ({"url": "http://no-such-host.invalid/hook"}, "url"),
        ({"url": "x" * 3000}, "url"),
        ({"url": "http://127.0.0.1:9/a", "event_types": ["appointment.exploded"]}, "event_types.0"),
        ({"url": "http://127.0.0.1:9/a", "event_types": ["fee.paid", "fee.paid"]}, "event_types"),
        ({"url": "http://127.0.0.1:9/a", "event_types": []}, "event_types"),
        ({"url": "http://127.0.0.1:9/a", "secret": "whsec_mine"}, "secret"),
    ):
        refused = await api.post("/v1/webhook-endpoints", json=bad, headers=auth)
        assert refused.status == 422, (bad, await refused.text())
        assert _field(await refused.json()) == field, bad

    path = f"/v1/webhook-endpoints/{first['id']}"
    shown = await _json(await api.get(path, headers=auth), 200)
    assert shown["secret"] is None and shown["event_types"] == ["appointment.booked"]  # shown once only
    await _json(await api.get(path, headers=other), 404)  # another business sees nothing
    listed = await _json(await api.get("/v1/webhook-endpoints", headers=auth), 200)
    assert [e["id"] for e in listed["items"]] == [first["id"]] and listed["next_after"] is None
    patched = await _json(await api.patch(path, json={"enabled": False}, headers=auth), 200)
    assert patched["enabled"] is False
    assert _field(await _json(await api.patch(path, json={"url": None}, headers=auth), 422)) == "url"

    key = {**auth, "Idempotency-Key": "rotate-1"}
    rotated = await _json(await api.post(f"{path}/rotate-secret", headers=key), 200)
    repeated = await _json(await api.post(f"{path}/rotate-secret", headers=key), 200)
    assert rotated["secret"] != first["secret"] and repeated["secret"] == rotated["secret"]
    assert rotated["previous_secret_expires_at"] is not None

    await _json(await api.post(f"{path}/replay", json={"event_id": "evt_999999"}, headers=auth), 404)
    for bad_replay, field in (
        ({}, "event_id"),
        ({"event_id": "42"}, "event_id"),
        ({"since": "2026-01-01T00:00:00Z", "until": "2025-01-01T00:00:00Z"}, "until"),
        ({"since": "2026-01-01T00:00:00Z", "until": "2026-03-01T00:00:00Z"}, "until"),
    ):
        refused = await api.post(f"{path}/replay", json=bad_replay, headers=auth)
        assert refused.status == 422, (bad_replay, await refused.text())
        assert _field(await refused.json()) == field, bad_replay
    window = {"since": "2026-01-01T00:00:00Z", "until": "2026-01-02T00:00:00Z"}
    assert (await _json(await api.post(f"{path}/replay", json=window, headers=auth), 202)) == {"replayed": 0}
    for route in ("attempts", "deliveries"):
        assert (await _json(await api.get(f"{path}/{route}", headers=auth), 200))["items"] == []
        await _json(await api.get(f"{path}/{route}", headers=other), 404)

    assert (await api.delete(path, headers=auth)).status == 204
    assert (await api.delete(path, headers=auth)).status == 404
    await _json(await api.get(path, headers=auth), 404)


async def test_a_deployment_accepts_only_public_https_endpoints(api_settings: Settings) -> None:
    from aiohttp.test_utils import TestClient, TestServer

    strict = api_settings.model_copy(update={"webhooks_allow_private": False})
    async with TestClient(TestServer(create_app(strict), host="127.0.0.1")) as client:
        auth, _ = await tenant(client)
        for url in (
            "http://example.com/hook",  # not https
            "https://127.0.0.1/hook",
            "https://[::1]/hook",
            "https://[::ffff:127.0.0.1]/hook",
            "https://10.0.0.8/hook",
            "https://169.254.169.254/latest/meta-data",
            "https://localhost/hook",
            "https://metadata.google.internal/computeMetadata/v1",
        ):
            refused = await client.post("/v1/webhook-endpoints", json={"url": url}, headers=auth)
            assert refused.status == 422, (url, await refused.text())
            assert _field(await refused.json()) == "url", url
