"""Businesses, customers and notifications through the real HTTP API, on the dev server, with real peers."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from api.provider_callbacks import twilio_signature
from keeptime.settings import Settings
from tests.peers import TWILIO_TOKEN, ProviderPeer, SmtpPeer

Client = TestClient[web.Request, web.Application]
ADMIN = {"Authorization": "Bearer dev-admin-key"}


async def new_business(api: Client, **values: Any) -> dict[str, str]:
    body = {"name": "Vet Süd", "time_zone": "Europe/Vienna", "admin_email": "desk@vet-sued.com", **values}
    response = await api.post("/v1/businesses", json=body, headers=ADMIN)
    assert response.status == 201, await response.text()
    return {"Authorization": f"Bearer {(await response.json())['api_key']}"}


async def new_customer(api: Client, auth: dict[str, str], **values: Any) -> dict[str, Any]:
    body = {
        "name": "Max Muster",
        "email": "max@muster-mail.com",
        "phone": "+436641234567",
        "sms_opted_in": True,
        "channel_order": ["sms", "email"],
        **values,
    }
    response = await api.post("/v1/customers", json=body, headers=auth)
    assert response.status == 201, await response.text()
    return dict(await response.json())


async def test_businesses_need_the_admin_key_and_get_a_working_api_key(api: Client) -> None:
    assert (await api.post("/v1/businesses", json={"name": "x", "time_zone": "UTC"})).status == 401
    auth = await new_business(api)
    me = await (await api.get("/v1/businesses/me", headers=auth)).json()
    assert me["time_zone"] == "Europe/Vienna"
    assert me["automation"]["reminder_offsets_s"] == [86400, 7200]
    assert (await api.get("/v1/businesses/me", headers={"Authorization": "Bearer kt_1_nope"})).status == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "time_zone": "Mars/Olympus"}, "time_zone"),
        ({"name": "x", "time_zone": "UTC", "colour": "red"}, "colour"),
        ({"name": "", "time_zone": "UTC"}, "name"),
        (
            {"name": "x", "time_zone": "UTC", "automation": {"reminder_offsets_s": [-5]}},
            "automation.reminder_offsets_s.0",
        ),
        (
            {"name": "x", "time_zone": "UTC", "automation": {"reminder_offsets_s": [10**20]}},
            "automation.reminder_offsets_s.0",
        ),
        (
            {"name": "x", "time_zone": "UTC", "automation": {"no_show_grace_s": 10**30}},
            "automation.no_show_grace_s",
        ),
        (
            {"name": "x", "time_zone": "UTC", "automation": {"no_show_fee_cents": 10**30}},
            "automation.no_show_fee_cents",
        ),
        (
            {
                "name": "x",
                "time_zone": "UTC",
                "automation": {"reminder_offsets_s": [600], "reminder_cutoff_s": 900},
            },
            "automation.reminder_cutoff_s",
        ),
        ({"name": "x", "time_zone": "UTC", "admin_email": "not-an-address"}, "admin_email"),
    ],
)
async def test_invalid_business_input_is_a_422_naming_the_field(
    api: Client, body: dict[str, Any], field: str
) -> None:
    response = await api.post("/v1/businesses", json=body, headers=ADMIN)
    assert response.status == 422
    assert field in [f["field"] for f in (await response.json())["fields"]]


async def test_malformed_json_is_a_400(api: Client) -> None:
    response = await api.post(
        "/v1/businesses", data=b"{nope", headers={**ADMIN, "Content-Type": "application/json"}
    )
    assert response.status == 400
    assert (await response.json())["error"] == "invalid_json"


async def test_customers_are_tenant_scoped(api: Client) -> None:
    first, second = await new_business(api), await new_business(api, name="Other")
    customer = await new_customer(api, first)
    assert (await api.get(f"/v1/customers/{customer['id']}", headers=first)).status == 200
    assert (await api.get(f"/v1/customers/{customer['id']}", headers=second)).status == 404
    assert (
        await api.patch(f"/v1/customers/{customer['id']}", json={"sms_opted_in": False}, headers=second)
    ).status == 404
    assert (await api.get("/v1/customers/abc", headers=first)).status == 404


async def test_customer_updates_validate_and_refuse_nulls_for_required_fields(api: Client) -> None:
    auth = await new_business(api)
    customer = await new_customer(api, auth)
    for body, field in (
        ({"name": None}, "name"),
        ({"phone": "0664 123"}, "phone"),
        ({"locale": "fj"}, "locale"),
        ({"email_opted_in": 1}, "email_opted_in"),
        ({"channel_order": ["fax"]}, "channel_order.0"),
    ):
        response = await api.patch(f"/v1/customers/{customer['id']}", json=body, headers=auth)
        assert response.status == 422, body
        assert field in [f["field"] for f in (await response.json())["fields"]]
    ok = await api.patch(f"/v1/customers/{customer['id']}", json={"email": None}, headers=auth)
    assert ok.status == 200 and (await ok.json())["email"] is None


async def test_single_notification_is_sent_and_shows_in_the_timeline(
    api: Client, peers: tuple[SmtpPeer, ProviderPeer]
) -> None:
    _, http = peers
    auth = await new_business(api)
    customer = await new_customer(api, auth)
    response = await api.post(
        "/v1/notifications",
        json={"customer_id": customer["id"], "subject": "Hi", "body": "We moved!"},
        headers=auth,
    )
    assert response.status == 200, await response.text()
    result = await response.json()
    assert (result["status"], result["channel"]) == ("sent", "sms")
    assert http.accepted["sms"][0]["form"]["Body"] == "Vet Süd: We moved!"

    timeline = await (await api.get("/v1/notifications?status=sent", headers=auth)).json()
    [item] = timeline["items"]
    assert (item["event"], item["channel"], item["provider"]) == ("broadcast.message", "sms", "twilio")
    other = await new_business(api, name="Other")
    assert (await (await api.get("/v1/notifications", headers=other)).json())["items"] == []


async def test_timeline_filters_are_validated(api: Client) -> None:
    auth = await new_business(api)
    for query, field in (("status=lost", "status"), ("entity=appointment:x", "entity"), ("limit=0", "limit")):
        response = await api.get(f"/v1/notifications?{query}", headers=auth)
        assert response.status == 422, query
        assert (await response.json())["fields"][0]["field"] == field


async def test_single_notification_to_another_business_customer_is_refused(api: Client) -> None:
    first, second = await new_business(api), await new_business(api, name="Other")
    customer = await new_customer(api, first)
    response = await api.post(
        "/v1/notifications", json={"customer_id": customer["id"], "subject": "x", "body": "y"}, headers=second
    )
    assert response.status == 404
    assert (await response.json())["fields"][0]["field"] == "customer_id"


async def test_broadcast_runs_to_completion_with_progress(
    api: Client, peers: tuple[SmtpPeer, ProviderPeer]
) -> None:
    smtp, http = peers
    auth = await new_business(api)
    for n in range(5):
        await new_customer(api, auth, name=f"C{n}", phone=f"+43664000000{n}", channel_order=["sms"])
    await new_customer(api, auth, name="Mail only", phone=None, channel_order=["email"])
    response = await api.post(
        "/v1/broadcasts",
        json={"subject": "Closed", "body": "Closed Friday", "all_customers": True},
        headers=auth,
    )
    assert response.status == 202, await response.text()
    broadcast = await response.json()
    assert broadcast["recipient_count"] == 6
    for _ in range(100):
        state = await (await api.get(f"/v1/broadcasts/{broadcast['id']}", headers=auth)).json()
        if state["status"] == "completed":
            break
        await asyncio.sleep(0.1)
    assert state["status"] == "completed" and state["report"]["sent"] == 6
    assert len(http.accepted["sms"]) == 5 and len(smtp.messages) == 1
    assert (await api.post(f"/v1/broadcasts/{broadcast['id']}/cancel", headers=auth)).status == 409


async def test_a_finished_broadcast_is_never_shown_without_its_report(
    api: Client, peers: tuple[SmtpPeer, ProviderPeer]
) -> None:
    """Pollers read the broadcast back to back while it finishes: every answer is whole.

    The workflow stores its report and then reports its final state; a reader that took the row first
    and asked the workflow second could answer "completed" with no report.
    """
    auth = await new_business(api)
    for n in range(3):
        await new_customer(api, auth, name=f"C{n}", phone=f"+43664000001{n}", channel_order=["sms"])
    response = await api.post(
        "/v1/broadcasts",
        json={"subject": "Closed", "body": "Closed Friday", "all_customers": True},
        headers=auth,
    )
    url = f"/v1/broadcasts/{(await response.json())['id']}"
    answers: list[dict[str, Any]] = []

    async def poll() -> None:
        for _ in range(2000):
            answer = await (await api.get(url, headers=auth)).json()
            answers.append(answer)
            if answer["status"] == "completed":
                return

    await asyncio.gather(*(poll() for _ in range(4)))
    finished = [a for a in answers if a["status"] == "completed"]
    assert len(finished) == 4
    assert all(a["report"] is not None and a["report"]["sent"] == 3 for a in finished), finished
    assert any(a["status"] == "running" for a in answers)


async def test_broadcast_needs_exactly_one_audience(api: Client) -> None:
    auth = await new_business(api)
    both = {"subject": "x", "body": "y", "customer_ids": [1], "all_customers": True}
    assert (await api.post("/v1/broadcasts", json=both, headers=auth)).status == 422
    assert (await api.post("/v1/broadcasts", json={"subject": "x", "body": "y"}, headers=auth)).status == 422


async def test_template_overrides_are_validated_then_used(
    api: Client, peers: tuple[SmtpPeer, ProviderPeer]
) -> None:
    _, http = peers
    auth = await new_business(api)
    bad = await api.put(
        "/v1/templates/broadcast.message/sms/text", json={"body": "{{ customer.shoe_size }}"}, headers=auth
    )
    assert bad.status == 422
    assert "shoe_size" in (await bad.json())["fields"][0]["message"]
    assert (await api.put("/v1/templates/nope/sms/text", json={"body": "x"}, headers=auth)).status == 404
    good = await api.put(
        "/v1/templates/broadcast.message/sms/text",
        json={"body": "Hallo {{ customer.first_name }}: {{ broadcast.body }}"},
        headers=auth,
    )
    assert good.status == 200
    customer = await new_customer(api, auth)
    await api.post(
        "/v1/notifications",
        json={"customer_id": customer["id"], "subject": "s", "body": "Neu!"},
        headers=auth,
    )
    assert http.accepted["sms"][-1]["form"]["Body"] == "Hallo Max: Neu!"
    listed = await (await api.get("/v1/templates", headers=auth)).json()
    assert listed["overrides"][0]["part"] == "text"
    assert (await api.delete("/v1/templates/broadcast.message/sms/text", headers=auth)).status == 204


def _signed_form(path: str, form: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    signature = twilio_signature(TWILIO_TOKEN, f"https://keeptime.example{path}", form)
    return form, {"X-Twilio-Signature": signature}


async def test_sms_receipts_move_sent_to_delivered_and_bad_signatures_are_refused(api: Client) -> None:
    auth = await new_business(api)
    customer = await new_customer(api, auth)
    sent = await (
        await api.post(
            "/v1/notifications",
            json={"customer_id": customer["id"], "subject": "s", "body": "b"},
            headers=auth,
        )
    ).json()
    form, headers = _signed_form(
        "/v1/webhooks/sms/status", {"MessageSid": sent["provider_message_id"], "MessageStatus": "delivered"}
    )
    assert (
        await api.post("/v1/webhooks/sms/status", data=form, headers={"X-Twilio-Signature": "forged"})
    ).status == 403
    assert (await api.post("/v1/webhooks/sms/status", data=form, headers=headers)).status == 204
    [item] = (await (await api.get("/v1/notifications", headers=auth)).json())["items"]
    assert item["status"] == "delivered" and item["delivered_at"]


async def test_stop_opts_the_number_out_and_start_opts_it_back_in(api: Client) -> None:
    auth = await new_business(api)
    customer = await new_customer(api, auth)
    form, headers = _signed_form("/v1/webhooks/sms/inbound", {"From": customer["phone"], "Body": " stop "})
    response = await api.post("/v1/webhooks/sms/inbound", data=form, headers=headers)
    assert response.status == 200 and "<Response/>" in await response.text()
    assert (await (await api.get(f"/v1/customers/{customer['id']}", headers=auth)).json())[
        "sms_opted_in"
    ] is False
    single = await (
        await api.post(
            "/v1/notifications",
            json={"customer_id": customer["id"], "subject": "s", "body": "b"},
            headers=auth,
        )
    ).json()
    assert single["channel"] == "email"  # SMS is off for this number now
    form, headers = _signed_form("/v1/webhooks/sms/inbound", {"From": customer["phone"], "Body": "START"})
    await api.post("/v1/webhooks/sms/inbound", data=form, headers=headers)
    assert (await (await api.get(f"/v1/customers/{customer['id']}", headers=auth)).json())[
        "sms_opted_in"
    ] is True


async def test_push_receipts_are_hmac_signed(api: Client, api_settings: Settings) -> None:
    auth = await new_business(api)
    customer = await new_customer(api, auth, push_token="dev-1", channel_order=["push"])
    sent = await (
        await api.post(
            "/v1/notifications",
            json={"customer_id": customer["id"], "subject": "s", "body": "b"},
            headers=auth,
        )
    ).json()
    raw = json.dumps(
        {"message_id": sent["provider_message_id"], "status": "failed", "error": "unregistered"}
    ).encode()
    signature = hmac.new(
        api_settings.push_receipt_secret.get_secret_value().encode(), raw, hashlib.sha256
    ).hexdigest()
    assert (
        await api.post("/v1/webhooks/push/status", data=raw, headers={"X-Keeptime-Signature": "x"})
    ).status == 403
    assert (
        await api.post("/v1/webhooks/push/status", data=raw, headers={"X-Keeptime-Signature": signature})
    ).status == 204
    [item] = (await (await api.get("/v1/notifications", headers=auth)).json())["items"]
    assert (item["status"], item["error"]) == ("failed", "unregistered")
