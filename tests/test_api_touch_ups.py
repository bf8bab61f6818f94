"""Touch-ups through the real HTTP API: the third open high/urgent one tells admins and PMs, with a link to
the project's touch-up list; repeats, bad input and other tenants."""

from __future__ import annotations

from tests.test_api_invoices import Client, _inbox, construction_company


async def test_touch_ups_and_their_alert(api: Client) -> None:
    auth, users = await construction_company(api)
    other, _ = await construction_company(api)
    project_id = (await (await api.post("/v1/projects", json={"name": "Harbour"}, headers=auth)).json())["id"]
    url = f"/v1/projects/{project_id}/touch-ups"
    assert (await api.put(f"/v1/projects/{project_id}/members/{users['pia']}", headers=auth)).status == 200
    for ref, priority in (("a", "high"), ("b", "urgent"), ("c", "low")):
        answer = await api.post(
            url, json={"reference": ref, "title": f"fix {ref}", "priority": priority}, headers=auth
        )
        assert answer.status == 201
    assert (await _inbox(api, auth, users["ana"]))["items"] == []
    third = await api.post(url, json={"reference": "d", "title": "fix d", "priority": "high"}, headers=auth)
    repeat = await api.post(url, json={"reference": "d", "title": "fix d", "priority": "high"}, headers=auth)
    assert third.status == 201 and repeat.status == 200
    told = (await _inbox(api, auth, users["pia"]))["items"]
    assert [(n["event"], n["link"]) for n in told] == [("touch_ups.high_priority", url)]
    assert (await _inbox(api, auth, users["carl"]))["items"] == []
    assert (await _inbox(api, auth, users["omar"]))["items"] == []  # a PM of other projects
    listed = (await (await api.get(url, headers=auth)).json())["items"]
    assert [t["reference"] for t in listed] == ["a", "b", "c", "d"]
    done = await api.patch(f"/v1/touch-ups/{listed[0]['id']}", json={"status": "done"}, headers=auth)
    assert (await done.json())["status"] == "done"
    again = await api.post(url, json={"reference": "a", "title": "fix a", "priority": "high"}, headers=auth)
    assert (again.status, (await again.json())["status"]) == (200, "done")  # the row moved on: same request

    bad = await api.post(url, json={"reference": "e", "title": "x", "priority": "critical"}, headers=auth)
    assert bad.status == 422 and (await bad.json())["fields"][0]["field"] == "priority"
    taken = await api.post(url, json={"reference": "d", "title": "other", "priority": "high"}, headers=auth)
    assert taken.status == 409 and (await taken.json())["fields"][0]["field"] == "reference"
    null = await api.patch(f"/v1/touch-ups/{listed[0]['id']}", json={"status": None}, headers=auth)
    assert null.status == 422
    assert (await api.get(url, headers=other)).status == 404
    assert (await api.patch(f"/v1/touch-ups/{listed[0]['id']}", json={}, headers=other)).status == 404
