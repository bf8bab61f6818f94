"""Projects and daily plans through the real HTTP API with the real worker on the dev server."""

from __future__ import annotations

from datetime import timedelta

from tests.test_api_invoices import Client, _inbox, _local_today, _until, construction_company


async def test_a_plan_past_its_deadline_alerts_and_a_submitted_one_does_not(api: Client) -> None:
    auth, users = await construction_company(api)
    project = await api.post("/v1/projects", json={"name": "Harbour Bridge"}, headers=auth)
    assert project.status == 201
    project_id = (await project.json())["id"]
    assert (await api.put(f"/v1/projects/{project_id}/members/{users['pia']}", headers=auth)).status == 200
    late = await api.post(
        "/v1/daily-plans",
        json={"project_id": project_id, "plan_date": (_local_today() - timedelta(days=1)).isoformat()},
        headers=auth,
    )
    assert late.status == 201, await late.text()
    late_id = (await late.json())["id"]

    async def alerted() -> bool:
        return len((await _inbox(api, auth, users["pia"]))["items"]) == 1

    await _until(alerted, "the PM told of yesterday's draft")
    assert [n["event"] for n in (await _inbox(api, auth, users["ana"]))["items"]] == ["daily_plan.incomplete"]
    assert (await _inbox(api, auth, users["carl"]))["items"] == []
    assert (await _inbox(api, auth, users["omar"]))["items"] == []  # a PM of other projects
    detail = await (await api.get(f"/v1/daily-plans/{late_id}", headers=auth)).json()
    assert detail["workflow"]["outcome"] == "alerted 2"

    body = {"project_id": project_id, "plan_date": (_local_today() + timedelta(days=1)).isoformat()}
    tomorrow = await (await api.post("/v1/daily-plans", json=body, headers=auth)).json()
    repeat = await api.post("/v1/daily-plans", json=body, headers=auth)
    assert repeat.status == 200 and (await repeat.json())["id"] == tomorrow["id"]
    submitted = await api.post(f"/v1/daily-plans/{tomorrow['id']}/submit", headers=auth)
    assert (await submitted.json())["status"] == "submitted"

    async def ended() -> bool:
        plan = await (await api.get(f"/v1/daily-plans/{tomorrow['id']}", headers=auth)).json()
        return plan["workflow"] is not None and plan["workflow"]["outcome"] == "submitted in time"

    await _until(ended, "the submitted plan's workflow to end")

    async def plan_events() -> list[tuple[str, str, int | None]]:
        query = "/v1/events?type=daily_plan.missed,daily_plan.submitted"
        feed = await (await api.get(query, headers=auth)).json()
        return [(e["type"], e["entity"], e["data"]["alerted"]) for e in feed["items"]]

    async def both() -> bool:  # the feed's horizon may be held back a moment on a shared server
        return len(await plan_events()) >= 2

    await _until(both, "the plans' events")
    assert sorted(await plan_events()) == [  # once each
        ("daily_plan.missed", f"daily_plan:{late_id}", 2),
        ("daily_plan.submitted", f"daily_plan:{tomorrow['id']}", None),
    ]


async def test_bad_plans_name_the_field_and_other_tenants_see_nothing(api: Client) -> None:
    auth, _ = await construction_company(api)
    other, _ = await construction_company(api)
    project_id = (await (await api.post("/v1/projects", json={"name": "P"}, headers=auth)).json())["id"]
    foreign = await api.post(
        "/v1/daily-plans", json={"project_id": project_id, "plan_date": "2031-01-01"}, headers=other
    )
    assert foreign.status == 404 and (await foreign.json())["fields"][0]["field"] == "project_id"
    bad_day = await api.post(
        "/v1/daily-plans", json={"project_id": project_id, "plan_date": "2031-02-30"}, headers=auth
    )
    assert bad_day.status == 422 and (await bad_day.json())["fields"][0]["field"] == "plan_date"
    plan = await (
        await api.post(
            "/v1/daily-plans", json={"project_id": project_id, "plan_date": "2031-01-01"}, headers=auth
        )
    ).json()
    assert (await api.get(f"/v1/daily-plans/{plan['id']}", headers=other)).status == 404
    assert (await api.post(f"/v1/daily-plans/{plan['id']}/submit", headers=other)).status == 404
    assert (await api.post("/v1/projects", json={"name": ""}, headers=auth)).status == 422
    assert (await api.post(f"/v1/projects/{project_id}/complete", headers=other)).status == 404
    done = await (await api.post(f"/v1/projects/{project_id}/complete", headers=auth)).json()
    again = await api.post(f"/v1/projects/{project_id}/complete", headers=auth)
    assert done["status"] == "completed" and again.status == 200 and (await again.json()) == done


async def test_projects_are_made_once_per_key_located_and_their_members_managed(api: Client) -> None:
    auth, users = await construction_company(api)
    other, other_users = await construction_company(api)
    body = {"name": "Depot", "latitude": 41.88, "longitude": -87.63}
    first = await api.post("/v1/projects", json=body, headers={**auth, "Idempotency-Key": "depot-1"})
    again = await api.post("/v1/projects", json=body, headers={**auth, "Idempotency-Key": "depot-1"})
    assert (first.status, again.status) == (201, 200)
    made = await first.json()
    assert (await again.json()) == made and (made["latitude"], made["longitude"]) == (41.88, -87.63)
    changed = await api.post(
        "/v1/projects", json={**body, "name": "Other"}, headers={**auth, "Idempotency-Key": "depot-1"}
    )
    assert changed.status == 409 and (await changed.json())["fields"][0]["field"] == "Idempotency-Key"
    # The same key for an employee is another request: a conflict, not the project.
    employee = await api.post(
        "/v1/employees",
        json={"name": "Jo", "hourly_rate_cents": 2500},
        headers={**auth, "Idempotency-Key": "depot-1"},
    )
    assert employee.status == 409
    for bad, field in (
        ({"name": "X", "latitude": 91, "longitude": 0}, "latitude"),
        ({"name": "X", "latitude": 10}, "longitude"),
        ({"name": "X", "longitude": 10}, "latitude"),
        ({"name": "X", "latitude": "north", "longitude": 1}, "latitude"),
    ):
        answer = await api.post("/v1/projects", json=bad, headers=auth)
        assert answer.status == 422 and (await answer.json())["fields"][0]["field"] == field, bad

    members = f"/v1/projects/{made['id']}/members"
    put = await api.put(f"{members}/{users['pia']}", headers=auth)
    put_again = await api.put(f"{members}/{users['pia']}", headers=auth)
    assert [u["id"] for u in (await put.json())["items"]] == [users["pia"]]
    assert (await put_again.json()) == (await put.json())
    assert (await api.put(f"{members}/{other_users['pia']}", headers=auth)).status == 404  # not ours
    assert (await api.put(f"{members}/{users['pia']}", headers=other)).status == 404
    assert (await api.get(members, headers=other)).status == 404
    removed = await api.delete(f"{members}/{users['pia']}", headers=auth)
    removed_again = await api.delete(f"{members}/{users['pia']}", headers=auth)
    assert (await removed.json())["items"] == [] and removed_again.status == 200
    weather = await api.get(f"/v1/projects/{made['id']}/weather", headers=auth)
    assert weather.status == 200 and (await weather.json())["items"] == []
    assert (await api.get(f"/v1/projects/{made['id']}/weather", headers=other)).status == 404
