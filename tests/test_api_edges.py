"""Bad input gets a clear 4xx naming the field, never a 5xx: one test per class of input seen to fail.

Each case here answered 500, or was accepted, before the classes were fixed (issue 10)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from api.app import create_app
from db import notification_queries
from db.engine import SessionFactory
from keeptime.settings import Settings
from tests.test_api_appointments import ADMIN, book, slot, tenant
from tests.test_api_notifications import new_business, new_customer

Client = TestClient[web.Request, web.Application]


async def _fields(response: Any) -> list[str]:
    assert response.content_type == "application/json", await response.text()
    return [f["field"] for f in (await response.json()).get("fields", [])]


@pytest.mark.parametrize(
    "path",
    [
        "/v1/appointments/9223372036854775808",
        "/v1/appointments/99999999999999999999999",
        "/v1/appointments/-1",
        "/v1/appointments/0x10",
        "/v1/customers/1%00",
        "/v1/policies/٣",  # a digit, but not an ASCII one
    ],
)
async def test_ids_out_of_range_in_paths_are_404(api: Client, path: str) -> None:
    auth, _ = await tenant(api)
    response = await api.get(path, headers=auth)
    assert response.status == 404 and response.content_type == "application/json"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("/v1/notifications?before_id=1000000000000000000000", "before_id"),
        ("/v1/notifications?customer_id=9223372036854775808", "customer_id"),
        ("/v1/notifications?entity=appointment:99999999999999999999", "entity"),
        ("/v1/notifications?status=%00", "status"),
        ("/v1/appointments?customer_id=true", "customer_id"),
        ("/v1/appointments?from=9999-01-01T00:00:00Z", "from"),
        ("/v1/appointments?limit=0", "limit"),
        ("/v1/calls?policy_id=9223372036854775808", "policy_id"),
        ("/v1/policies?customer_id=-3", "customer_id"),
        ("/v1/vaccinations/upcoming?within_days=1e3", "within_days"),
    ],
)
async def test_query_parameters_out_of_range_are_422_naming_them(api: Client, query: str, field: str) -> None:
    auth, _ = await tenant(api)
    response = await api.get(query, headers=auth)
    assert response.status == 422
    assert field in await _fields(response)


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/calls", {"policy_id": 2**63, "scheduled_for": "2031-01-01T10:00:00Z"}, "policy_id"),
        ("/v1/calls", {"policy_id": 1, "scheduled_for": 0}, "scheduled_for"),
        (
            "/v1/policies",
            {"customer_id": 1, "policy_number": "P", "duration_months": 12, "end_date": 0},
            "end_date",
        ),
        (
            "/v1/policies",
            {"customer_id": 1, "policy_number": "P", "duration_months": 12, "end_date": "9999-12-31"},
            "end_date",
        ),
        ("/v1/pets", {"owner_id": True, "name": "Rex"}, "owner_id"),
        ("/v1/vaccinations", {"pet_id": 1, "vaccine": "Rabies", "expires_at": 0}, "expires_at"),
        (
            "/v1/notifications",
            {"customer_id": 1, "subject": "s", "body": "b", "planned_for": 0},
            "planned_for",
        ),
        ("/v1/broadcasts", {"subject": "s", "body": "b", "customer_ids": [False]}, "customer_ids.0"),
        ("/v1/broadcasts", {"subject": "s", "body": "b"}, "customer_ids"),
        ("/v1/customers", {"name": "Nul\u0000Byte"}, "name"),
        ("/v1/customers", {"name": "Mia", "locale": "fj"}, "locale"),
    ],
)
async def test_wrong_types_and_ranges_in_bodies_are_422_naming_the_field(
    api: Client, path: str, body: dict[str, Any], field: str
) -> None:
    auth, _ = await tenant(api)
    response = await api.post(path, json=body, headers=auth)
    assert response.status == 422, await response.text()
    assert field in await _fields(response)


async def test_malformed_bodies_get_400_415_or_422_as_json(api: Client) -> None:
    auth, _ = await tenant(api)
    deep = "[" * 100_000 + "]" * 100_000
    nested = await api.post("/v1/customers", data=deep, headers={**auth, "Content-Type": "application/json"})
    assert nested.status == 400 and nested.content_type == "application/json"
    as_text = await api.post("/v1/customers", data=json.dumps({"name": "Mia"}), headers=auth)
    assert as_text.status == 415 and await _fields(as_text) == ["Content-Type"]
    empty_patch = await api.patch("/v1/businesses/me", data=b"", headers=auth)
    assert empty_patch.status == 422 and await _fields(empty_patch) == ["body"]
    empty_put = await api.put("/v1/scheduler/config", data=b"", headers=auth)
    assert empty_put.status == 422
    not_object = await api.patch("/v1/businesses/me", json=[1, 2], headers=auth)
    assert not_object.status == 400


async def test_an_over_long_idempotency_key_is_a_json_400(api: Client) -> None:
    auth, customer_id = await tenant(api)
    for key in ("k" * 256, "k" * 9000):
        response = await api.post(
            "/v1/appointments",
            json={"customer_id": customer_id, **slot()},
            headers={**auth, "Idempotency-Key": key},
        )
        assert response.status == 400 and await _fields(response) == ["Idempotency-Key"]


async def test_another_business_ids_are_refused_the_same_way_everywhere(api: Client) -> None:
    auth, customer_id = await tenant(api)
    other_auth, other_customer = await tenant(api)
    broadcast = await api.post(
        "/v1/broadcasts", json={"subject": "s", "body": "b", "customer_ids": [other_customer]}, headers=auth
    )
    # A body id naming nothing of this business is a 404 naming the field (JSON:API 1.1), as a path id is.
    assert broadcast.status == 404 and await _fields(broadcast) == ["customer_ids"]
    booking = await api.post("/v1/appointments", json={"customer_id": other_customer, **slot()}, headers=auth)
    assert booking.status == 404 and await _fields(booking) == ["customer_id"]
    mine = await book(api, auth, customer_id)
    assert (await api.get(f"/v1/appointments/{mine['id']}", headers=other_auth)).status == 404


async def test_policies_filter_by_customer(api: Client) -> None:
    auth, first = await tenant(api)
    second = (
        await (
            await api.post("/v1/customers", json={"name": "Ola", "phone": "+4915133335555"}, headers=auth)
        ).json()
    )["id"]
    for number, customer in (("A-1", first), ("B-1", second), ("B-2", second)):
        body = {
            "customer_id": customer,
            "policy_number": number,
            "duration_months": 12,
            "end_date": "2031-06-30",
        }
        assert (await api.post("/v1/policies", json=body, headers=auth)).status == 201
    listed = await (await api.get(f"/v1/policies?customer_id={second}", headers=auth)).json()
    assert sorted(p["policy_number"] for p in listed["items"]) == ["B-1", "B-2"]


async def test_settings_patch_is_a_json_merge_patch(api: Client) -> None:
    auth = await new_business(api, automation={"reminder_offsets_s": [172800], "no_show_grace_s": 600})
    changed = await api.patch(
        "/v1/businesses/me", json={"automation": {"no_show_fee_cents": 2500}}, headers=auth
    )
    assert changed.status == 200, await changed.text()
    automation = (await changed.json())["automation"]
    assert (
        automation["no_show_fee_cents"],
        automation["reminder_offsets_s"],
        automation["no_show_grace_s"],
    ) == (
        2500,
        [172800],
        600,
    )
    reset = await api.patch("/v1/businesses/me", json={"automation": {"no_show_grace_s": None}}, headers=auth)
    assert (await reset.json())["automation"]["no_show_grace_s"] == 900  # back to the default
    me = await (await api.get("/v1/businesses/me", headers=auth)).json()
    assert me["automation"]["quiet_hours"] == {"start": "21:00:00", "end": "08:00:00"}  # defaults shown
    refused = await api.patch("/v1/businesses/me", json={"name": None}, headers=auth)
    assert refused.status == 422 and await _fields(refused) == ["name"]
    config = await api.patch("/v1/scheduler/config", json={"max_calls_per_day": 7}, headers=auth)
    assert config.status == 200
    again = await api.put("/v1/scheduler/config", json={"max_concurrent_calls": 2}, headers=auth)
    assert (await again.json())["max_calls_per_day"] == 7


async def test_a_malformed_form_on_the_sms_webhook_is_a_400(api: Client) -> None:
    # cut off in the middle of the closing boundary
    broken = b'--xyz\r\nContent-Disposition: form-data; name="MessageSid"\r\n\r\nSM1\r\n--xy'
    response = await api.post(
        "/v1/webhooks/sms/status",
        data=broken,
        headers={"Content-Type": "multipart/form-data; boundary=xyz", "X-Twilio-Signature": "x"},
    )
    assert response.status == 400 and response.content_type == "application/json"


async def test_database_down_is_a_503_with_retry_after(api_settings: Settings) -> None:
    down = api_settings.model_copy(
        update={"database_url": "postgresql+asyncpg://keeptime@127.0.0.1:9/keeptime"}
    )
    async with TestClient(TestServer(create_app(down), host="127.0.0.1")) as client:
        for method, path in (("GET", "/v1/businesses/me"), ("POST", "/v1/businesses")):
            headers = ADMIN if method == "POST" else {"Authorization": "Bearer kt_1_secret"}
            body = {"name": "x", "time_zone": "UTC"} if method == "POST" else None
            response = await client.request(method, path, json=body, headers=headers)
            assert response.status == 503, await response.text()
            assert (
                response.headers["Retry-After"] == "5" and (await response.json())["error"] == "unavailable"
            )


async def test_new_customer_locale_must_be_one_babel_formats(api: Client) -> None:
    auth = await new_business(api)
    customer = await new_customer(api, auth, locale="pt_BR")
    assert customer["locale"] == "pt_BR"
    response = await api.patch(f"/v1/customers/{customer['id']}", json={"locale": "xx_YY"}, headers=auth)
    assert response.status == 422 and await _fields(response) == ["locale"]
    assert (await api.get("/v1/businesses/me", headers=ADMIN)).status == 401


async def test_cancelling_a_broadcast_whose_workflow_has_ended_is_a_409_not_a_500(
    api: Client, sessions: SessionFactory
) -> None:
    """The fuzzer's case: the row still says running when the workflow has just finished (or never ran)."""
    auth, customer_id = await tenant(api)
    business_id = int(auth["Authorization"].split("_")[1])
    async with sessions() as session:
        orphan = await notification_queries.create_broadcast(session, business_id, "s", "b", [customer_id])
    response = await api.post(f"/v1/broadcasts/{orphan.id}/cancel", headers=auth)
    assert response.status == 409 and response.content_type == "application/json"


async def test_made_up_methods_do_not_grow_the_metrics(api: TestClient[web.Request, web.Application]) -> None:
    """Each request is observed by route template and method; a method we do not serve (the HTTP parser
    passes WebDAV's and others) must not add a series per method."""
    for method in ("PROPFIND", "MKCOL", "LOCK", "UNLOCK"):
        response = await api.request(method, "/v1/appointments")
        assert response.status == 405
    text = await (await api.get("/metrics")).text()
    counts = [
        line for line in text.splitlines() if line.startswith("keeptime_api_request_duration_seconds_count")
    ]
    assert any('method="other"' in line for line in counts), counts
    assert "PROPFIND" not in text and "MKCOL" not in text
