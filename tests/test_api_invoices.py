"""Invoices, staff and in-app notifications through the real HTTP API, with the real worker on the dev
server: an invoice already past its due date goes overdue at once and its admins and accounting are told."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from aiohttp.test_utils import TestClient

Client = TestClient[web.Request, web.Application]
ADMIN = {"Authorization": "Bearer dev-admin-key"}
ZONE = "America/Chicago"


async def construction_company(api: Client) -> tuple[dict[str, str], dict[str, int]]:
    created = await (
        await api.post("/v1/businesses", json={"name": "Prairie Build", "time_zone": ZONE}, headers=ADMIN)
    ).json()
    auth = {"Authorization": f"Bearer {created['api_key']}"}
    users = {}
    # pia is the PM of the projects the tests make (they add her); omar is a PM of none of them.
    for name, roles in (("ana", ["admin"]), ("carl", ["accounting"]), ("pia", ["pm"]), ("omar", ["pm"])):
        answer = await api.post(
            "/v1/staff",
            json={"name": name.title(), "email": f"{name}@prairie.example.com", "roles": roles},
            headers=auth,
        )
        assert answer.status == 201, await answer.text()
        users[name] = (await answer.json())["id"]
    return auth, users


def _local_today() -> date:
    return datetime.now(UTC).astimezone(ZoneInfo(ZONE)).date()


def _invoice(number: str, due_on: date, amount: int = 150_000) -> dict[str, Any]:
    return {"number": number, "amount_cents": amount, "currency": "USD", "due_on": due_on.isoformat()}


async def _inbox(api: Client, auth: dict[str, str], user_id: int, query: str = "") -> dict[str, Any]:
    answer = await api.get(f"/v1/staff/{user_id}/notifications{query}", headers=auth)
    assert answer.status == 200
    body: dict[str, Any] = await answer.json()
    return body


async def _until(check: Any, what: str) -> None:
    for _ in range(200):
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def test_a_late_invoice_goes_overdue_tells_admins_and_accounting_and_payment_ends_it(
    api: Client,
) -> None:
    auth, users = await construction_company(api)
    due = _local_today() - timedelta(days=10)  # ten days overdue: overdue now, the 7-day escalation too
    answer = await api.post("/v1/invoices", json=_invoice("INV-7", due), headers=auth)
    assert answer.status == 201, await answer.text()
    invoice = await answer.json()
    repeat = await api.post("/v1/invoices", json=_invoice("INV-7", due), headers=auth)
    assert (repeat.status, (await repeat.json())["id"]) == (200, invoice["id"])  # a retried request

    async def told() -> bool:
        return len((await _inbox(api, auth, users["ana"]))["items"]) == 2

    await _until(told, "the overdue notice and the 7-day escalation")
    ana = await _inbox(api, auth, users["ana"])
    assert [n["event"] for n in ana["items"]] == ["invoice.overdue_7d", "invoice.overdue"]  # newest first
    assert ana["unread"] == 2 and ana["items"][0]["link"] == f"/v1/invoices/{invoice['id']}"
    assert len((await _inbox(api, auth, users["carl"]))["items"]) == 2
    assert (await _inbox(api, auth, users["pia"]))["items"] == []

    detail = await (await api.get(f"/v1/invoices/{invoice['id']}", headers=auth)).json()
    assert (detail["status"], detail["days_overdue"]) == ("overdue", 10)
    assert detail["workflow"]["next_action"] == "14 days overdue"

    first = [n["id"] for n in ana["items"]][:1]
    marked = await api.post(f"/v1/staff/{users['ana']}/notifications/read", json={"ids": first}, headers=auth)
    assert (await marked.json()) == {"marked": 1}
    again = await api.post(f"/v1/staff/{users['ana']}/notifications/read", json={"ids": first}, headers=auth)
    assert (await again.json()) == {"marked": 0}
    assert (await _inbox(api, auth, users["ana"], "?unread=true"))["unread"] == 1

    paid = await api.post(f"/v1/invoices/{invoice['id']}/payment", headers=auth)
    assert (await paid.json())["status"] == "paid"
    repeat_paid = await api.post(f"/v1/invoices/{invoice['id']}/payment", headers=auth)
    assert (
        repeat_paid.status == 200 and (await repeat_paid.json())["version"] == (await paid.json())["version"]
    )

    async def ended() -> bool:
        body = await (await api.get(f"/v1/invoices/{invoice['id']}", headers=auth)).json()
        return body["workflow"] is not None and body["workflow"]["status"] == "paid"

    await _until(ended, "the workflow to end paid")
    written_off = await api.post(
        f"/v1/invoices/{invoice['id']}/write-off", json={"reason": "x"}, headers=auth
    )
    assert written_off.status == 409 and (await written_off.json())["fields"][0]["field"] == "status"


async def test_a_repeated_create_is_the_same_request_after_the_invoice_moved_on(api: Client) -> None:
    """The repeat is compared with the body that created the invoice, not with the row as the workflow or a
    payment has left it (the CI flake of 2026-12-07: the workflow had marked it overdue in between)."""
    auth, _ = await construction_company(api)
    body = _invoice("INV-9", _local_today() + timedelta(days=30))
    first = await (await api.post("/v1/invoices", json=body, headers=auth)).json()
    moved = await api.post(
        f"/v1/invoices/{first['id']}/due-date",
        json={"due_on": (_local_today() + timedelta(days=60)).isoformat()},
        headers=auth,
    )
    assert moved.status == 200, await moved.text()
    assert (await api.post(f"/v1/invoices/{first['id']}/payment", headers=auth)).status == 200
    repeat = await api.post("/v1/invoices", json=body, headers=auth)
    assert (repeat.status, (await repeat.json())["id"], (await repeat.json())["status"]) == (
        200,
        first["id"],
        "paid",
    )
    other = await api.post("/v1/invoices", json={**body, "amount_cents": 1}, headers=auth)
    assert other.status == 409 and (await other.json())["fields"][0]["field"] == "number"


async def test_the_overdue_list_is_in_collection_order(api: Client) -> None:
    auth, _ = await construction_company(api)
    today = _local_today()
    for number, days, amount in (("A", 3, 1_000), ("B", 20, 500), ("C", 3, 9_000), ("D", -5, 99_000)):
        answer = await api.post(
            "/v1/invoices", json=_invoice(number, today - timedelta(days=days), amount), headers=auth
        )
        assert answer.status == 201

    async def three_overdue() -> bool:
        body = await (await api.get("/v1/invoices?status=overdue", headers=auth)).json()
        return len(body["items"]) == 3

    await _until(three_overdue, "three invoices overdue")
    items = (await (await api.get("/v1/invoices?status=overdue", headers=auth)).json())["items"]
    assert [(i["number"], i["days_overdue"]) for i in items] == [("B", 20), ("C", 3), ("A", 3)]


async def test_bad_input_names_the_field_and_other_tenants_see_nothing(api: Client) -> None:
    auth, users = await construction_company(api)
    other, _ = await construction_company(api)
    today = _local_today()
    cases = [
        ({**_invoice("X", today), "amount_cents": 0}, "amount_cents"),
        ({**_invoice("X", today), "amount_cents": 10**14}, "amount_cents"),
        ({**_invoice("X", today), "currency": "usd"}, "currency"),
        ({**_invoice("X", today), "due_on": "2026-02-30"}, "due_on"),
        ({**_invoice("X", today), "due_on": "9999-01-01"}, "due_on"),
        ({**_invoice("X", today), "status": "paid"}, "status"),
        ({**_invoice("", today)}, "number"),
    ]
    for body, field in cases:
        answer = await api.post("/v1/invoices", json=body, headers=auth)
        assert answer.status == 422, (body, await answer.text())
        assert field in [f["field"] for f in (await answer.json())["fields"]], body
    created = await (
        await api.post("/v1/invoices", json=_invoice("Y", today + timedelta(days=30)), headers=auth)
    ).json()
    changed = await api.post("/v1/invoices", json=_invoice("Y", today + timedelta(days=31)), headers=auth)
    assert changed.status == 409 and (await changed.json())["fields"][0]["field"] == "number"
    draft = await (
        await api.post(
            "/v1/invoices", json={**_invoice("Z", today + timedelta(days=5)), "status": "draft"}, headers=auth
        )
    ).json()
    later = (today + timedelta(days=9)).isoformat()
    redated = await api.post(f"/v1/invoices/{draft['id']}/due-date", json={"due_on": later}, headers=auth)
    assert redated.status == 200 and (await redated.json())["due_on"] == later  # a draft's date may change
    sent = await (await api.post(f"/v1/invoices/{draft['id']}/send", headers=auth)).json()
    assert sent["status"] == "sent"
    assert (await api.get(f"/v1/invoices/{created['id']}", headers=other)).status == 404
    assert (await api.post(f"/v1/invoices/{created['id']}/payment", headers=other)).status == 404
    assert (await api.get(f"/v1/staff/{users['ana']}/notifications", headers=other)).status == 404
    bad_roles = await api.post(
        "/v1/staff", json={"name": "Z", "email": "z@prairie.example.com", "roles": ["boss"]}, headers=auth
    )
    assert bad_roles.status == 422
    moved = await api.post(
        f"/v1/invoices/{created['id']}/due-date", json={"due_on": "2026-13-01"}, headers=auth
    )
    assert moved.status == 422 and (await moved.json())["fields"][0]["field"] == "due_on"
