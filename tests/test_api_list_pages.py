"""The list routes page with cursors and filter by last change, through the real API (issue 33): no list
stops silently at its limit, and a cursor that is not one the list answered is a 422 naming ``after``."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import keeptime_client

from tests.appointment_support import eventually
from tests.test_api_appointments import Client, slot, tenant


def _z(at: datetime) -> str:
    """An instant as a query string carries it (a raw "+" would arrive as a space)."""
    return at.isoformat().replace("+00:00", "Z")


async def _all(api: Client, auth: dict[str, str], path: str, key: str = "id") -> tuple[list[int], int]:
    """Every id the list answers, page by page; and how many pages it took."""
    ids: list[int] = []
    cursor: str | None = None
    pages = 0
    while True:
        sep = "&" if "?" in path else "?"
        url = f"{path}{sep}after={cursor}" if cursor else path
        answer = await api.get(url, headers=auth)
        assert answer.status == 200, await answer.text()
        body: dict[str, Any] = await answer.json()
        ids += [row[key] for row in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return ids, pages


async def test_appointments_and_policies_page_on_and_filter_by_last_change(api: Client) -> None:
    auth, customer_id = await tenant(api)
    before = datetime.now(UTC) - timedelta(seconds=1)
    booked = []
    for n in (5, 3, 6, 2, 4, 1, 7):  # booked out of start order
        answer = await api.post(
            "/v1/appointments", json={"customer_id": customer_id, **slot(days=n)}, headers=auth
        )
        assert answer.status == 201, await answer.text()
        booked.append(await answer.json())
    by_start = [a["id"] for a in sorted(booked, key=lambda a: (a["starts_at"], a["id"]))]
    assert await _all(api, auth, "/v1/appointments?limit=3") == (by_start, 3)
    assert await _all(api, auth, "/v1/appointments?limit=7") == (by_start, 1)
    changed, _ = await _all(api, auth, f"/v1/appointments?limit=2&updated_after={_z(before)}")
    assert sorted(changed) == sorted(a["id"] for a in booked)

    # the client follows the cursor and sends the instant encoded ("+00:00" survives the query string)
    key = auth["Authorization"].removeprefix("Bearer ")
    async with keeptime_client.Keeptime(str(api.make_url("")).rstrip("/"), key) as kt:
        listed = [a["id"] async for a in kt.appointments(page_size=2)]
        recent = [a["id"] async for a in kt.appointments(updated_after=before, page_size=3)]
    assert listed == by_start and sorted(recent) == sorted(by_start)

    first = await (await api.get("/v1/appointments?limit=2", headers=auth)).json()
    mark = datetime.now(UTC)
    path = f"/v1/appointments/{booked[0]['id']}/cancel"
    assert (await api.post(path, json={}, headers=auth)).status == 200

    async def only_the_cancelled() -> bool:
        ids, _ = await _all(api, auth, f"/v1/appointments?updated_after={_z(mark)}")
        return ids == [booked[0]["id"]]

    await eventually(only_the_cancelled, timeout_s=20, what="the cancelled appointment as the one changed")

    # a cursor edited, of another order (the change order's for the start order) or not a cursor: 422
    edited = first["next_cursor"][:-2] + ("AA" if not first["next_cursor"].endswith("AA") else "BB")
    changed_page = await (
        await api.get(f"/v1/appointments?limit=1&updated_after={_z(before)}", headers=auth)
    ).json()
    for bad in (edited, changed_page["next_cursor"], "not-a-cursor", "e30"):
        refused = await api.get(f"/v1/appointments?after={bad}", headers=auth)
        assert refused.status == 422, (bad, await refused.text())
        assert (await refused.json())["fields"][0]["field"] == "after", bad

    end = date.today() + timedelta(days=400)
    policy_ids = []
    for n in range(5):
        body = {
            "customer_id": customer_id,
            "policy_number": f"PG-{n}",
            "duration_months": 12,
            "end_date": (end + timedelta(days=(n * 3) % 5)).isoformat(),
        }
        answer = await api.post("/v1/policies", json=body, headers=auth)
        assert answer.status == 201, await answer.text()
        policy_ids.append(await answer.json())
    by_end = [p["id"] for p in sorted(policy_ids, key=lambda p: (p["end_date"], p["id"]))]
    assert await _all(api, auth, "/v1/policies?limit=2") == (by_end, 3)
    # the scheduler's pending list: soonest call first, paged (policies whose first call is 10-12 days out)
    soon = []
    for n in range(3):
        body = {
            "customer_id": customer_id,
            "policy_number": f"SOON-{n}",
            "duration_months": 12,
            "end_date": (date.today() + timedelta(days=42 - n)).isoformat(),
        }
        answer = await api.post("/v1/policies", json=body, headers=auth)
        assert answer.status == 201, await answer.text()
        soon.append((await answer.json())["id"])

    async def planned() -> bool:
        listed = await (await api.get("/v1/scheduler/pending?within_days=20", headers=auth)).json()
        return len(listed["items"]) == 3

    await eventually(planned, timeout_s=30, what="the three first calls planned")
    assert await _all(api, auth, "/v1/scheduler/pending?within_days=20&limit=2", "policy_id") == (
        soon[::-1],
        2,
    )
    calls, _ = await _all(api, auth, "/v1/calls?limit=2")
    assert calls == []  # (paged the same way: tests/test_list_pages.py has the orders' property)


async def test_upcoming_vaccinations_page_on_soonest_first(api: Client) -> None:
    auth, customer_id = await tenant(api)
    pet = await (
        await api.post("/v1/pets", json={"owner_id": customer_id, "name": "Rex"}, headers=auth)
    ).json()
    now = datetime.now(UTC).replace(microsecond=0)
    made: list[tuple[int, int]] = []
    for days in (9, 3, 9, 5, 1):  # two on the same instant: the id breaks the tie
        body = {"pet_id": pet["id"], "vaccine": f"V{len(made)}", "expires_at": _z(now + timedelta(days=days))}
        answer = await api.post("/v1/vaccinations", json=body, headers=auth)
        assert answer.status == 201, await answer.text()
        made.append((days, (await answer.json())["id"]))
    soonest = [row_id for _, row_id in sorted(made)]
    assert await _all(api, auth, "/v1/vaccinations/upcoming?limit=2") == (soonest, 3)
    refused = await api.get("/v1/vaccinations/upcoming?after=e30", headers=auth)
    assert refused.status == 422 and (await refused.json())["fields"][0]["field"] == "after"
