"""Projects and daily plans through the real HTTP API with the real worker on the dev server."""

from __future__ import annotations

from datetime import timedelta

from tests.test_api_invoices import Client, _inbox, _local_today, _until, construction_company


async def test_a_plan_past_its_deadline_alerts_and_a_submitted_one_does_not(api: Client) -> None:
    auth, users = await construction_company(api)
    project = await api.post("/v1/projects", json={"name": "Harbour Bridge"}, headers=auth)
    assert project.status == 201
    project_id = (await project.json())["id"]
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


async def test_bad_plans_name_the_field_and_other_tenants_see_nothing(api: Client) -> None:
    auth, _ = await construction_company(api)
    other, _ = await construction_company(api)
    project_id = (await (await api.post("/v1/projects", json={"name": "P"}, headers=auth)).json())["id"]
    foreign = await api.post(
        "/v1/daily-plans", json={"project_id": project_id, "plan_date": "2031-01-01"}, headers=other
    )
    assert foreign.status == 422 and (await foreign.json())["fields"][0]["field"] == "project_id"
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
