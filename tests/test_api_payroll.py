"""Employees, time entries and payroll periods through the real HTTP API: repeats, audit, tenants."""

from __future__ import annotations

from datetime import UTC, date, datetime

from db import payroll
from db.engine import SessionFactory
from db.models import Employee
from tests.test_api_invoices import Client, construction_company


async def test_time_entries_and_a_payroll_period_through_the_api(
    api: Client, sessions: SessionFactory
) -> None:
    auth, users = await construction_company(api)
    other, others = await construction_company(api)
    keyed = {**auth, "Idempotency-Key": "hire-jo"}
    created = await api.post("/v1/employees", json={"name": "Jo", "hourly_rate_cents": 3000}, headers=keyed)
    repeat = await api.post("/v1/employees", json={"name": "Jo", "hourly_rate_cents": 3000}, headers=keyed)
    employee = await created.json()
    assert (created.status, repeat.status) == (201, 200) and (await repeat.json()) == employee
    url = f"/v1/employees/{employee['id']}/time-entries"
    entry = {"reference": "w1", "work_date": "2027-03-08", "minutes": 480}
    assert (await api.post(url, json=entry, headers=auth)).status == 201
    assert (await api.post(url, json=entry, headers=auth)).status == 200  # a repeat logs once
    taken = await api.post(url, json={**entry, "minutes": 60}, headers=auth)
    assert taken.status == 409 and (await taken.json())["fields"][0]["field"] == "reference"
    cases = [({**entry, "minutes": 0}, "minutes"), ({**entry, "minutes": 1441}, "minutes")]
    cases.append(({**entry, "work_date": "2027-02-30"}, "work_date"))
    for bad, field in cases:
        answer = await api.post(url, json=bad, headers=auth)
        assert answer.status == 422 and (await answer.json())["fields"][0]["field"] == field
    assert (await api.post(url, json=entry, headers=other)).status == 404

    async with sessions() as session:
        row = await session.get(Employee, employee["id"])
    assert row is not None
    async with sessions() as session:  # what the weekly job does on Monday 07:00 in the company's zone
        await payroll.ensure_period(session, row.business_id, date(2027, 3, 8), datetime.now(UTC))
    periods = (await (await api.get("/v1/payroll-periods", headers=auth)).json())["items"]
    assert [(p["week_start"], p["total_cents"], p["status"]) for p in periods] == [
        ("2027-03-08", 24_000, "pending")
    ]
    assert (await (await api.get("/v1/payroll-periods", headers=other)).json())["items"] == []
    period_id = periods[0]["id"]
    late = {"reference": "w2", "work_date": "2027-03-09", "minutes": 60}
    assert (await api.post(url, json=late, headers=auth)).status == 201
    recalculated = await api.post(
        f"/v1/payroll-periods/{period_id}/recalculate", json={"reason": "late entry"}, headers=auth
    )
    body = await recalculated.json()
    assert (body["total_cents"], body["revision"]) == (27_000, 2)
    assert [(r["reason"], r["total_before_cents"]) for r in body["recalculations"]] == [
        ("late entry", 24_000)
    ]
    approve = f"/v1/payroll-periods/{period_id}/approve"
    by_ana = {"approved_by": users["ana"]}
    assert (await api.post(approve, json=by_ana, headers=other)).status == 404
    for body, status in (
        (None, 422),  # who approves is required: the approval is the review
        ({"approved_by": others["ana"]}, 404),  # another company's admin: none of this company's
        ({"approved_by": 2**62}, 404),
        ({"approved_by": users["pia"]}, 409),  # a PM does not approve payroll
    ):
        refused = await api.post(approve, json=body, headers=auth)
        assert refused.status == status, body
        assert (await refused.json())["fields"][0]["field"] == "approved_by"
    approved = await api.post(approve, json=by_ana, headers=auth)
    assert (await approved.json())["status"] == "approved" and (await approved.json())[
        "approved_by"
    ] == users["ana"]
    again = await api.post(approve, json={"approved_by": users["carl"]}, headers=auth)  # a repeat
    assert (await again.json())["approved_by"] == users["ana"]  # the first reviewer stays
    frozen = await api.post(
        f"/v1/payroll-periods/{period_id}/recalculate", json={"reason": "x"}, headers=auth
    )
    assert frozen.status == 409 and (await frozen.json())["fields"][0]["field"] == "status"
