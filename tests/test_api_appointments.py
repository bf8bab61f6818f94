"""Appointments through the real HTTP API on the dev server: booking, validation, steering, reviews."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from activities.reconciler import reconcile_workflows
from db.engine import SessionFactory
from db.models import Appointment
from services.appointments import book_appointment
from tests.appointment_support import eventually

Client = TestClient[web.Request, web.Application]
ADMIN = {"Authorization": "Bearer dev-admin-key"}


async def tenant(api: Client, **automation: Any) -> tuple[dict[str, str], int]:
    body = {
        "name": "Salon Lumen",
        "time_zone": "Europe/Berlin",
        "admin_email": "desk@lumen-salon.com",
        "automation": automation,
    }
    created = await (await api.post("/v1/businesses", json=body, headers=ADMIN)).json()
    auth = {"Authorization": f"Bearer {created['api_key']}"}
    customer = await api.post(
        "/v1/customers",
        json={"name": "Mia Wolf", "phone": "+4915133334444", "sms_opted_in": True},
        headers=auth,
    )
    return auth, (await customer.json())["id"]


def slot(days: float = 2, hours: float = 1) -> dict[str, str]:
    start = (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0)
    return {"starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=hours)).isoformat()}


async def book(api: Client, auth: dict[str, str], customer_id: int, **extra: Any) -> dict[str, Any]:
    response = await api.post(
        "/v1/appointments", json={"customer_id": customer_id, **slot(), **extra}, headers=auth
    )
    assert response.status == 201, await response.text()
    return dict(await response.json())


async def test_booking_is_idempotent_per_key(api: Client) -> None:
    auth, customer_id = await tenant(api)
    body = {"customer_id": customer_id, "service": "Colour", **slot()}
    headers = {**auth, "Idempotency-Key": "booking-42"}
    first = await api.post("/v1/appointments", json=body, headers=headers)
    again = await api.post("/v1/appointments", json=body, headers=headers)
    assert (first.status, again.status) == (201, 200)
    assert (await first.json())["id"] == (await again.json())["id"]
    other_body = await api.post("/v1/appointments", json={**body, "service": "Cut"}, headers=headers)
    assert other_body.status == 422
    assert (await other_body.json())["fields"][0]["field"] == "Idempotency-Key"
    listed = await (await api.get("/v1/appointments", headers=auth)).json()
    assert len(listed["items"]) == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"ends_at": "2020-01-01T00:00:00Z"}, "ends_at"),
        ({"customer_id": True}, "customer_id"),
        ({"customer_id": 2**63}, "customer_id"),
        ({"customer_id": 1.5}, "customer_id"),
        ({"service": "Cut\u0000"}, "service"),
        ({"starts_at": 0}, "starts_at"),
        ({"starts_at": "9999-01-01T10:00:00Z", "ends_at": "9999-01-01T11:00:00Z"}, "starts_at"),
        ({**slot(days=-1)}, "starts_at"),
        ({"colour": "red"}, "colour"),
        ({"starts_at": "tomorrow"}, "starts_at"),
        ({"starts_at": "2031-01-01T10:00:00", "ends_at": "2031-01-01T11:00:00"}, "starts_at"),
        ({"customer_id": "seven"}, "customer_id"),
    ],
)
async def test_bad_bookings_are_422_naming_the_field(api: Client, change: dict[str, Any], field: str) -> None:
    auth, customer_id = await tenant(api)
    response = await api.post(
        "/v1/appointments", json={"customer_id": customer_id, **slot(), **change}, headers=auth
    )
    assert response.status == 422, await response.text()
    assert field in [f["field"] for f in (await response.json())["fields"]]


async def test_a_booking_that_matches_the_document_is_refused_only_as_it_says(api: Client) -> None:
    """A whole number written as a float is the integer (JSON Schema's ``integer``); a customer id that
    names nothing is a 404 naming the field; an end before the start or a start in the past is a 422
    ``inconsistent``, the code the document gives the rules no schema can state."""
    auth, customer_id = await tenant(api)
    whole = await api.post(
        "/v1/appointments", json={"customer_id": float(customer_id), **slot()}, headers=auth
    )
    assert whole.status == 201 and (await whole.json())["customer_id"] == customer_id
    unknown = await api.post("/v1/appointments", json={"customer_id": 999_999, **slot()}, headers=auth)
    assert unknown.status == 404 and (await unknown.json())["fields"][0]["field"] == "customer_id"
    for change in ({"ends_at": slot()["starts_at"]}, slot(days=-1)):
        answer = await api.post(
            "/v1/appointments", json={"customer_id": customer_id, **slot(), **change}, headers=auth
        )
        body = await answer.json()
        assert (answer.status, body["error"]) == (422, "inconsistent"), body


async def test_overlaps_are_refused_when_the_business_asks(api: Client) -> None:
    auth, customer_id = await tenant(api, prevent_overlaps=True)
    await book(api, auth, customer_id, resource="Chair 1")
    clash = await api.post(
        "/v1/appointments",
        json={"customer_id": customer_id, "resource": "Chair 1", **slot(days=2, hours=2)},
        headers=auth,
    )
    assert clash.status == 409
    assert (await clash.json())["fields"][0]["field"] == "starts_at"
    other_chair = await api.post(
        "/v1/appointments", json={"customer_id": customer_id, "resource": "Chair 2", **slot()}, headers=auth
    )
    assert other_chair.status == 201


async def test_get_shows_row_workflow_state_and_timeline_and_is_tenant_scoped(api: Client) -> None:
    auth, customer_id = await tenant(api)
    booked = await book(api, auth, customer_id)
    shown: dict[str, Any] = {}

    async def both_sent() -> bool:
        shown.update(await (await api.get(f"/v1/appointments/{booked['id']}", headers=auth)).json())
        return len(shown["notifications"]) == 2

    await eventually(both_sent, what="confirmation and admin alert in the timeline")
    assert shown["status"] == "confirmed" and shown["workflow"]["next_action"]["label"] == "24h reminder"
    assert {n["event"] for n in shown["notifications"]} == {
        "appointment.booked",
        "appointment.admin_new_booking",
    }
    stranger, _ = await tenant(api)
    assert (await api.get(f"/v1/appointments/{booked['id']}", headers=stranger)).status == 404
    assert (
        await api.post(f"/v1/appointments/{booked['id']}/cancel", json={}, headers=stranger)
    ).status == 404


async def test_steering_answers_with_the_new_state_or_explains_why_not(api: Client) -> None:
    auth, customer_id = await tenant(api)
    booked = await book(api, auth, customer_id)
    path = f"/v1/appointments/{booked['id']}"
    repeat = await api.post(f"{path}/confirm", headers=auth)  # booked confirmed: a repeat, no change
    assert repeat.status == 200 and (await repeat.json())["version"] == 1
    assert (await api.post(f"{path}/no-show", headers=auth)).status == 409
    new_slot = slot(days=3)
    for _ in range(3):  # the same reschedule, repeated: one change, one version
        moved = await api.post(f"{path}/reschedule", json=new_slot, headers=auth)
        assert moved.status == 200 and (await moved.json())["version"] == 2
    backwards = await api.post(
        f"{path}/reschedule", json={**slot(days=3), "ends_at": slot(days=1)["starts_at"]}, headers=auth
    )
    assert backwards.status == 422
    cancelled = await api.post(f"{path}/cancel", json={"reason": "moved away"}, headers=auth)
    assert cancelled.status == 200 and (await cancelled.json())["status"] == "cancelled"
    repeated = await api.post(f"{path}/cancel", json={}, headers=auth)
    assert repeated.status == 200 and (await repeated.json())["status"] == "cancelled"
    assert (await api.post(f"{path}/check-in", headers=auth)).status == 409
    assert (await api.post(f"{path}/reschedule", json=slot(days=4), headers=auth)).status == 409


async def test_reviews_need_a_completed_appointment_and_update_the_rating(api: Client) -> None:
    auth, customer_id = await tenant(api)
    booked = await book(api, auth, customer_id)
    path = f"/v1/appointments/{booked['id']}"
    assert (await api.post(f"{path}/review", json={"rating": 5}, headers=auth)).status == 409
    assert (await api.post(f"{path}/check-in", headers=auth)).status == 200
    assert (await api.post(f"{path}/complete", headers=auth)).status == 200
    assert (await api.post(f"{path}/review", json={"rating": 6}, headers=auth)).status == 422
    reviewed = await api.post(f"{path}/review", json={"rating": 4, "text": "Lovely"}, headers=auth)
    assert reviewed.status == 201
    assert (await reviewed.json())["rating"] == {
        "average": 4.0,
        "count": 1,
        "distribution": {"1": 0, "2": 0, "3": 0, "4": 1, "5": 0},
    }
    repeated = await api.post(f"{path}/review", json={"rating": 4, "text": "Lovely"}, headers=auth)
    assert repeated.status == 200, await repeated.text()
    assert (await repeated.json())["rating"]["count"] == 1
    assert (await api.post(f"{path}/review", json={"rating": 5}, headers=auth)).status == 409
    repeated = await api.post(f"{path}/review", json={"rating": 4, "text": "Lovely"}, headers=auth)
    assert repeated.status == 200, await repeated.text()
    assert (await repeated.json())["rating"]["count"] == 1
    me = await (await api.get("/v1/businesses/me", headers=auth)).json()
    assert me["rating"]["count"] == 1


class ProcessDied(Exception):
    pass


async def test_a_crash_between_commit_and_start_is_healed_by_the_retry_or_the_reconciler(
    api: Client, dev_env: WorkflowEnvironment, sessions: SessionFactory
) -> None:
    auth, customer_id = await tenant(api)
    business_id = int(auth["Authorization"].split("_")[1])
    values = {"customer_id": customer_id, **{k: datetime.fromisoformat(v) for k, v in slot().items()}}

    def die(_: Appointment) -> None:
        raise ProcessDied

    with pytest.raises(ProcessDied):
        await book_appointment(
            sessions, dev_env.client, business_id, values, idempotency_key="k1", after_commit=die
        )
    [orphan] = (await (await api.get("/v1/appointments", headers=auth)).json())["items"]
    with pytest.raises(RPCError):
        await dev_env.client.get_workflow_handle(orphan["workflow_id"]).describe()
    # the client retries with the same key: same appointment, and now its workflow runs
    retried, created = await book_appointment(
        sessions, dev_env.client, business_id, values, idempotency_key="k1"
    )
    assert retried.id == orphan["id"] and not created
    await dev_env.client.get_workflow_handle(orphan["workflow_id"]).describe()

    with pytest.raises(ProcessDied):
        await book_appointment(
            sessions,
            dev_env.client,
            business_id,
            {**values, "service": "x"},
            idempotency_key=None,
            after_commit=die,
        )
    assert len((await reconcile_workflows(sessions, dev_env.client)).started) == 1
    assert (await reconcile_workflows(sessions, dev_env.client)).started == []


async def test_concurrent_repeats_of_one_booking_make_one_appointment(api: Client) -> None:
    """Ten requests with one Idempotency-Key at once: the key's primary key decides (no business-wide
    lock any more): one 201, nine 200 with the same appointment."""
    auth, customer_id = await tenant(api)
    body = {"customer_id": customer_id, **slot()}
    headers = {**auth, "Idempotency-Key": "burst-1"}
    responses = await asyncio.gather(
        *(api.post("/v1/appointments", json=body, headers=headers) for _ in range(10))
    )
    statuses = sorted(r.status for r in responses)
    assert statuses == [200] * 9 + [201], statuses
    assert len({(await r.json())["id"] for r in responses}) == 1
    listed = await (await api.get("/v1/appointments", headers=auth)).json()
    assert len(listed["items"]) == 1


async def test_concurrent_bookings_of_one_resource_let_one_through(api: Client) -> None:
    auth, customer_id = await tenant(api, prevent_overlaps=True)
    body = {"customer_id": customer_id, "resource": "Chair 1", **slot()}
    responses = await asyncio.gather(
        *(api.post("/v1/appointments", json=body, headers=auth) for _ in range(8))
    )
    assert sorted(r.status for r in responses) == [201] + [409] * 7
