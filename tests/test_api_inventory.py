"""Inventory through the real HTTP API: a movement that crosses below the threshold tells admins and PMs
once, a repeated reference moves the stock once, bad input names the field, other tenants see nothing."""

from __future__ import annotations

from tests.test_api_invoices import Client, _inbox, construction_company


async def test_inventory_movements_and_their_shortage_alert(api: Client) -> None:
    auth, users = await construction_company(api)
    other, _ = await construction_company(api)
    created = await api.post(
        "/v1/inventory", json={"name": "Cement", "unit": "bags", "quantity": 10, "threshold": 5}, headers=auth
    )
    assert created.status == 201
    item = await created.json()
    used = await api.post(
        f"/v1/inventory/{item['id']}/movements", json={"reference": "u1", "delta": -7}, headers=auth
    )
    assert used.status == 201 and (await used.json())["short"] is True
    repeat = await api.post(
        f"/v1/inventory/{item['id']}/movements", json={"reference": "u1", "delta": -7}, headers=auth
    )
    assert repeat.status == 200 and (await repeat.json())["quantity"] == 3
    assert [n["event"] for n in (await _inbox(api, auth, users["ana"]))["items"]] == ["inventory.shortage"]
    assert [n["event"] for n in (await _inbox(api, auth, users["pia"]))["items"]] == ["inventory.shortage"]
    assert (await _inbox(api, auth, users["carl"]))["items"] == []
    short = await (await api.get("/v1/inventory?short=true", headers=auth)).json()
    assert [i["name"] for i in short["items"]] == ["Cement"]

    cases = [
        ({"reference": "u2", "delta": 0}, 422, "delta"),
        ({"reference": "u2", "delta": -4}, 409, "delta"),
    ]
    cases += [
        ({"reference": "", "delta": 1}, 422, "reference"),
        ({"reference": "u1", "delta": 2}, 409, "reference"),
    ]
    for body, status, field in cases:
        answer = await api.post(f"/v1/inventory/{item['id']}/movements", json=body, headers=auth)
        assert answer.status == status, (body, await answer.text())
        assert (await answer.json())["fields"][0]["field"] == field
    assert (await api.post("/v1/inventory", json={**body, "name": "X"}, headers=auth)).status == 422
    again = await api.post(
        "/v1/inventory", json={"name": "Cement", "unit": "bags", "quantity": 10, "threshold": 5}, headers=auth
    )
    again_body = await again.json()
    assert (again.status, again_body["id"], again_body["quantity"]) == (200, item["id"], 3)
    duplicate = await api.post(
        "/v1/inventory", json={"name": "Cement", "unit": "bags", "quantity": 1, "threshold": 0}, headers=auth
    )
    assert duplicate.status == 409
    foreign = await api.post(
        f"/v1/inventory/{item['id']}/movements", json={"reference": "x", "delta": 1}, headers=other
    )
    assert foreign.status == 404
