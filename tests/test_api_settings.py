"""Settings changes through the HTTP API (dev server, real worker): preview, apply, the rollout's progress,
and the woken appointment planning with the new settings; bad input answers 4xx naming the field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from aiohttp.test_utils import TestClient
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from domain.ids import admin_digest_workflow_id
from tests.appointment_support import eventually
from tests.test_api_appointments import book, tenant
from workflows.admin_digest import AdminDigestWorkflow

Client = TestClient[web.Request, web.Application]
QUIET_OFF = {"start": "00:00", "end": "00:00"}
TWO_DAYS = {"automation": {"reminder_offsets_s": [172800, 7200]}}


async def test_preview_then_apply_moves_a_sleeping_appointments_reminder(api: Client) -> None:
    auth, customer_id = await tenant(api, quiet_hours=QUIET_OFF)
    booking = await book(api, auth, customer_id)  # two days ahead: sleeping towards its 24 h reminder
    url = f"/v1/appointments/{booking['id']}"

    async def next_label() -> str | None:
        workflow = (await (await api.get(url, headers=auth)).json())["workflow"]
        return workflow["next_action"]["label"] if workflow and workflow["next_action"] else None

    await eventually(lambda: _is(next_label, "24h reminder"), what="the 24 h reminder planned")

    preview = await api.post("/v1/businesses/me/automation/preview", json=TWO_DAYS, headers=auth)
    assert preview.status == 200, await preview.text()
    body = await preview.json()
    assert (body["appointments_checked"], body["appointments_changed"], body["truncated"]) == (1, 1, False)
    changes = {c["step"]: c for c in body["sample"][0]["changes"]}
    assert (changes["24h reminder"]["change"], changes["48h reminder"]["change"]) == ("disappears", "appears")
    assert changes["48h reminder"]["outcome_after"] == "send"  # 48 h before a start 2 days out: now
    after = datetime.fromisoformat(changes["48h reminder"]["after"])
    assert abs(after - datetime.now(UTC)) < timedelta(minutes=1)
    # Local time in the business's zone: Berlin's offset at that instant (+01:00 in winter, +02:00 in summer;
    # a fixed "+01:00" failed from late March to late October).
    assert after.utcoffset() == after.astimezone(ZoneInfo("Europe/Berlin")).utcoffset()
    me = await (await api.get("/v1/businesses/me", headers=auth)).json()
    assert me["settings_revision"] == 1  # a preview stores nothing

    applied = await api.patch("/v1/businesses/me", json=TWO_DAYS, headers=auth)
    assert applied.status == 200
    result = await applied.json()
    assert result["settings_revision"] == 2 and result["settings_rollout"]["revision"] == 2
    progress_url = "/v1/businesses/me/settings-rollouts/2"

    async def rolled_out() -> bool:
        progress = await (await api.get(progress_url, headers=auth)).json()
        return bool(progress.get("finished"))

    await eventually(rolled_out, what="the rollout")
    progress = await (await api.get(progress_url, headers=auth)).json()
    assert {k["kind"]: k["signalled"] for k in progress["kinds"]} == {
        "appointment": 1,
        "vaccination": 0,
        "policy": 0,
        "invoice": 0,
        "daily_plan": 0,
    }
    await eventually(lambda: _is(next_label, "2h reminder"), what="the 48 h reminder sent, then the 2 h one")
    detail = await (await api.get(url, headers=auth)).json()
    sent = [n["event"] for n in detail["notifications"] if n["status"] == "sent"]
    assert "appointment.reminder_48h" in sent and "appointment.reminder_24h" not in sent

    again = await (await api.patch("/v1/businesses/me", json=TWO_DAYS, headers=auth)).json()
    assert (again["settings_revision"], again["rolled_out_revision"], again["settings_rollout"]) == (
        2,
        2,
        None,
    )


async def _is(read: Any, expected: str) -> bool:
    return bool(await read() == expected)


async def test_bad_previews_name_the_field_and_unknown_rollouts_are_404(api: Client) -> None:
    auth, _ = await tenant(api)
    preview = "/v1/businesses/me/automation/preview"
    bad = await api.post(preview, json={"automation": {"reminder_offsets_s": [-5]}}, headers=auth)
    assert bad.status == 422
    assert {f["field"] for f in (await bad.json())["fields"]} == {"automation.reminder_offsets_s.0"}
    assert (await api.post(preview, json=[1], headers=auth)).status == 400
    empty = await (await api.post(preview, json={}, headers=auth)).json()
    assert (empty["appointments_checked"], empty["appointments_changed"], empty["sample"]) == (0, 0, [])
    for revision in ("1", "99", "0", "x", "99999999999999999999"):
        missing = await api.get(f"/v1/businesses/me/settings-rollouts/{revision}", headers=auth)
        assert missing.status == 404, revision


async def test_switching_to_a_daily_digest_starts_one_digest_workflow_and_back_ends_it(
    api: Client, dev_env: WorkflowEnvironment
) -> None:
    auth, _ = await tenant(api)
    digest = {"automation": {"admin_alerts": "daily_digest", "admin_digest_time": "18:30"}}
    for _ in range(2):  # a repeat changes nothing and starts nothing twice
        answer = await api.patch("/v1/businesses/me", json=digest, headers=auth)
        assert answer.status == 200
    business_id = (await answer.json())["id"]
    handle = dev_env.client.get_workflow_handle_for(
        AdminDigestWorkflow.run, admin_digest_workflow_id(business_id)
    )

    async def planned() -> bool:
        try:
            view = await handle.query(AdminDigestWorkflow.state)
        except RPCError:
            return False
        return view.next_at is not None

    await eventually(planned, what="the digest workflow planning 18:30 Berlin time")
    view = await handle.query(AdminDigestWorkflow.state)
    assert view.next_at is not None and view.next_at.astimezone(ZoneInfo("Europe/Berlin")).strftime(
        "%H:%M"
    ) == ("18:30")
    bad = await api.patch("/v1/businesses/me", json={"automation": {"admin_alerts": "hourly"}}, headers=auth)
    assert bad.status == 422
    back = await api.patch("/v1/businesses/me", json={"automation": {"admin_alerts": "each"}}, headers=auth)
    assert back.status == 200

    async def ended() -> bool:
        return bool((await handle.describe()).status == WorkflowExecutionStatus.COMPLETED)

    await eventually(ended, what="the digest workflow to end")
