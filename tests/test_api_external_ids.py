"""Appointments keyed by the business's own id (issue 33): ``PUT /v1/appointments/by-external-id/{id}`` is an
idempotent upsert (the same body twice: one appointment, one workflow, one confirmation; another slot: a
reschedule), lookups and filters find it by that id, events carry it, metadata is bounded as Stripe bounds
it, and a taken id is a 409 naming the field."""

from __future__ import annotations

import asyncio
from typing import Any

from db.engine import SessionFactory
from tests.appointment_support import eventually, log_of
from tests.test_api_appointments import Client, slot, tenant


async def _put(api: Client, auth: dict[str, str], external_id: str, body: dict[str, Any]) -> Any:
    return await api.put(f"/v1/appointments/by-external-id/{external_id}", json=body, headers=auth)


async def test_the_same_upsert_twice_books_once_and_another_slot_reschedules(
    api: Client, sessions: SessionFactory
) -> None:
    auth, customer_id = await tenant(api)
    body = {"customer_id": customer_id, **slot(), "metadata": {"crm": "HubSpot", "deal": "42"}}
    answers = await asyncio.gather(*(_put(api, auth, "crm-1", body) for _ in range(4)))  # a retry storm
    statuses = sorted(a.status for a in answers)
    assert statuses == [200, 200, 200, 201], [await a.text() for a in answers]
    made = [await a.json() for a in answers]
    assert {m["id"] for m in made} == {made[0]["id"]} and {m["external_id"] for m in made} == {"crm-1"}
    assert sorted(m["outcome"] for m in made) == ["created", "unchanged", "unchanged", "unchanged"]
    appointment_id = made[0]["id"]
    assert made[0]["metadata"] == {"crm": "HubSpot", "deal": "42"}

    async def confirmed_once() -> bool:  # the customer's confirmation and the desk's alert, once each
        sent = sorted(e for e, s, _ in await log_of(sessions, appointment_id) if s == "sent")
        return sent == ["appointment.admin_new_booking", "appointment.booked"]

    await eventually(confirmed_once, timeout_s=30, what="one confirmation")
    listed = await (await api.get("/v1/appointments?external_id=crm-1", headers=auth)).json()
    assert [a["id"] for a in listed["items"]] == [appointment_id]
    found = await api.get("/v1/appointments/by-external-id/crm-1", headers=auth)
    assert found.status == 200 and (await found.json())["id"] == appointment_id

    moved = {**body, **slot(days=3)}
    rescheduled = await _put(api, auth, "crm-1", moved)
    assert rescheduled.status == 200, await rescheduled.text()
    result = await rescheduled.json()
    assert (result["outcome"], result["version"], result["starts_at"]) == (
        "rescheduled",
        2,
        moved["starts_at"],
    )
    again = await (await _put(api, auth, "crm-1", moved)).json()
    assert (again["outcome"], again["version"]) == ("unchanged", 2)
    relabelled = await (await _put(api, auth, "crm-1", {**moved, "metadata": {"crm": "Pipedrive"}})).json()
    assert (relabelled["outcome"], relabelled["metadata"]) == ("updated", {"crm": "Pipedrive"})

    feed = await (
        await api.get("/v1/events?type=appointment.booked,appointment.rescheduled", headers=auth)
    ).json()
    assert [(e["type"], e["data"]["external_id"]) for e in feed["items"]] == [
        ("appointment.booked", "crm-1"),
        ("appointment.rescheduled", "crm-1"),
    ]
    booked_sent = [e for e, s, _ in await log_of(sessions, appointment_id) if e == "appointment.booked"]
    assert booked_sent == ["appointment.booked"]  # four requests, one confirmation, still


async def test_an_external_id_is_one_appointments_and_its_customer_stays(api: Client) -> None:
    auth, customer_id = await tenant(api)
    other_auth, _ = await tenant(api)
    body = {"customer_id": customer_id, **slot()}
    assert (await _put(api, auth, "crm-7", body)).status == 201
    other_customer = await (
        await api.post("/v1/customers", json={"name": "Noah Berg", "email": "noah@example.com"}, headers=auth)
    ).json()
    for changed, field in (
        ({**body, "customer_id": other_customer["id"]}, "customer_id"),
        ({**body, "service": "Colour"}, "service"),
    ):
        refused = await _put(api, auth, "crm-7", changed)
        assert refused.status == 409, await refused.text()
        assert (await refused.json())["fields"][0]["field"] == field
    taken = await api.post(
        "/v1/appointments", json={**body, **slot(days=4), "external_id": "crm-7"}, headers=auth
    )
    assert taken.status == 409 and (await taken.json())["fields"][0]["field"] == "external_id"
    # another business's id space is its own
    assert (await api.get("/v1/appointments/by-external-id/crm-7", headers=other_auth)).status == 404
    assert (await api.get("/v1/appointments/by-external-id/nope", headers=auth)).status == 404
    assert (await api.get("/v1/appointments/by-external-id/a%2Fb", headers=auth)).status == 404
    past = {**body, "starts_at": "2020-01-01T09:00:00Z", "ends_at": "2020-01-01T10:00:00Z"}
    refused = await _put(api, auth, "crm-8", past)
    assert refused.status == 422 and (await refused.json())["fields"][0]["field"] == "starts_at"


async def test_metadata_beyond_its_bounds_is_refused_naming_the_field(api: Client) -> None:
    auth, customer_id = await tenant(api)
    base = {"customer_id": customer_id, **slot()}
    for metadata in (
        {str(i): "v" for i in range(51)},  # 51 keys
        {"k" * 41: "v"},
        {"k": "v" * 501},
        {"k": 5},
        {"k": None},
        {"": "v"},
        "not an object",
    ):
        refused = await _put(api, auth, "crm-9", {**base, "metadata": metadata})
        assert refused.status == 422, (metadata, await refused.text())
        assert (await refused.json())["fields"][0]["field"].startswith("metadata"), metadata
    exact = {f"key{i:02d}".ljust(40, "x"): "v" * 500 for i in range(50)}  # every bound, at the bound
    accepted = await _put(api, auth, "crm-9", {**base, "metadata": exact})
    assert accepted.status == 201 and (await accepted.json())["metadata"] == exact


async def test_customers_are_found_and_upserted_by_their_external_id(api: Client) -> None:
    auth, _ = await tenant(api)
    other, _ = await tenant(api)
    body = {"name": "Ida Roth", "email": "ida@example.com", "metadata": {"pms": "VetSoft"}}
    first = await api.put("/v1/customers/by-external-id/pms-17", json=body, headers=auth)
    assert first.status == 201, await first.text()
    made = await first.json()
    assert (made["external_id"], made["metadata"], made["outcome"]) == (
        "pms-17",
        {"pms": "VetSoft"},
        "created",
    )
    again = await (await api.put("/v1/customers/by-external-id/pms-17", json=body, headers=auth)).json()
    assert (again["id"], again["outcome"]) == (made["id"], "unchanged")
    moved = await (
        await api.put(
            "/v1/customers/by-external-id/pms-17", json={**body, "phone": "+4915100001111"}, headers=auth
        )
    ).json()
    assert (moved["id"], moved["outcome"], moved["phone"], moved["email"]) == (
        made["id"],
        "updated",
        "+4915100001111",
        "ida@example.com",
    )
    found = await api.get("/v1/customers/by-external-id/pms-17", headers=auth)
    assert found.status == 200 and (await found.json())["id"] == made["id"]
    assert (await api.get("/v1/customers/by-external-id/pms-17", headers=other)).status == 404

    taken = await api.post("/v1/customers", json={"name": "Max", "external_id": "pms-17"}, headers=auth)
    assert taken.status == 409 and (await taken.json())["fields"][0]["field"] == "external_id"
    second = await (
        await api.post("/v1/customers", json={"name": "Max", "external_id": "pms-18"}, headers=auth)
    ).json()
    clash = await api.patch(f"/v1/customers/{second['id']}", json={"external_id": "pms-17"}, headers=auth)
    assert clash.status == 409 and (await clash.json())["fields"][0]["field"] == "external_id"
    cleared = await api.patch(f"/v1/customers/{second['id']}", json={"metadata": None}, headers=auth)
    assert cleared.status == 200 and (await cleared.json())["metadata"] is None
    # the other business has an id space of its own
    assert (
        await api.post("/v1/customers", json={"name": "Max", "external_id": "pms-17"}, headers=other)
    ).status == 201
    refused = await api.put(
        "/v1/customers/by-external-id/pms-19", json={"name": "X", "metadata": {"k": 1}}, headers=auth
    )
    assert refused.status == 422 and (await refused.json())["fields"][0]["field"].startswith("metadata")
    # an upsert sets what it is sent, so null is refused where a customer cannot be without a value
    # (the fuzzer's case: channel_order and the opt-ins null reached NOT NULL columns as a 500)
    for field in ("channel_order", "email_opted_in", "preferences", "locale"):
        nulled = await api.put(
            "/v1/customers/by-external-id/pms-17", json={"name": "Ida Roth", field: None}, headers=auth
        )
        assert nulled.status == 422, (field, await nulled.text())
        assert (await nulled.json())["fields"][0]["field"] == field
    emptied = await api.put(
        "/v1/customers/by-external-id/pms-17", json={"name": "Ida Roth", "phone": None}, headers=auth
    )
    assert emptied.status == 200 and (await emptied.json())["phone"] is None


async def test_policies_invoices_and_projects_take_your_ids_and_are_found_by_them(api: Client) -> None:
    from datetime import date, timedelta

    auth, customer_id = await tenant(api)
    other, other_customer = await tenant(api)
    meta = {"crm": "Pipedrive"}
    end = (date.today() + timedelta(days=400)).isoformat()
    due = (date.today() + timedelta(days=30)).isoformat()
    bodies: dict[str, dict[str, Any]] = {
        "policies": {
            "customer_id": customer_id,
            "policy_number": "P-1",
            "duration_months": 12,
            "end_date": end,
        },
        "invoices": {"number": "INV-1", "amount_cents": 1000, "currency": "EUR", "due_on": due},
        "projects": {"name": "Harbour Bridge"},
    }
    made: dict[str, int] = {}
    for kind, body in bodies.items():
        created = await api.post(
            f"/v1/{kind}", json={**body, "external_id": "ext-1", "metadata": meta}, headers=auth
        )
        assert created.status == 201, (kind, await created.text())
        row = await created.json()
        assert (row["external_id"], row["metadata"]) == ("ext-1", meta), kind
        made[kind] = row["id"]
        found = await api.get(f"/v1/{kind}/by-external-id/ext-1", headers=auth)
        assert found.status == 200 and (await found.json())["id"] == row["id"], kind
        assert (await api.get(f"/v1/{kind}/by-external-id/ext-1", headers=other)).status == 404, kind
        assert (await api.get(f"/v1/{kind}/by-external-id/ext-2", headers=auth)).status == 404, kind
        # another row of the same kind under a taken id: a 409 naming the field, nothing written
        second = {**body, "external_id": "ext-1"}
        second.update({"policy_number": "P-2"} if kind == "policies" else {})
        second.update({"number": "INV-2"} if kind == "invoices" else {})
        taken = await api.post(f"/v1/{kind}", json=second, headers=auth)
        assert taken.status == 409, (kind, await taken.text())
        assert (await taken.json())["fields"][0]["field"] == "external_id", kind
        bad = await api.post(f"/v1/{kind}", json={**body, "metadata": {"k": 1}}, headers=auth)
        assert bad.status == 422 and (await bad.json())["fields"][0]["field"].startswith("metadata"), kind
    # the invoice: the same body again is the same invoice (its repeat rule holds with the new fields)
    repeat = await api.post(
        "/v1/invoices", json={**bodies["invoices"], "external_id": "ext-1", "metadata": meta}, headers=auth
    )
    assert repeat.status == 200 and (await repeat.json())["id"] == made["invoices"]
    # the other business has an id space of its own
    theirs = {**bodies["policies"], "customer_id": other_customer, "external_id": "ext-1"}
    assert (await api.post("/v1/policies", json=theirs, headers=other)).status == 201
    for kind in ("policies", "invoices"):
        listed = await (await api.get(f"/v1/{kind}?external_id=ext-1", headers=auth)).json()
        assert [row["id"] for row in listed["items"]] == [made[kind]], kind
    plain = {**bodies["policies"], "policy_number": "P-3"}
    third = await (await api.post("/v1/policies", json=plain, headers=auth)).json()
    assert third["external_id"] is None
    clash = await api.patch(f"/v1/policies/{third['id']}", json={"external_id": "ext-1"}, headers=auth)
    assert clash.status == 409 and (await clash.json())["fields"][0]["field"] == "external_id"
    named = await api.patch(f"/v1/policies/{third['id']}", json={"external_id": "ext-3"}, headers=auth)
    assert named.status == 200 and (await named.json())["external_id"] == "ext-3"

    async def issued() -> list[Any]:
        feed = await (await api.get("/v1/events?type=invoice.issued", headers=auth)).json()
        return [e["data"]["external_id"] for e in feed["items"]]

    await eventually(lambda: _nonempty(issued), timeout_s=30, what="invoice.issued")
    assert await issued() == ["ext-1"]  # the event carries your id beside Keeptime's


async def _nonempty(read: Any) -> bool:
    return bool(await read())
