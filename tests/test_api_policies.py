"""Policies, calls and the call scheduler through the real HTTP API (dev server, real worker): validation,
conflicts, tenant isolation, the timeline moving with the end date, and the call-record cleanup boundary."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import update

from db.engine import SessionFactory
from db.models import Call
from domain.statuses import CallStatus
from tests.appointment_support import eventually

Client = TestClient[web.Request, web.Application]
ADMIN = {"Authorization": "Bearer dev-admin-key"}


async def _insurer(api: Client, name: str = "Shield") -> tuple[dict[str, str], int]:
    created = await (
        await api.post("/v1/businesses", json={"name": name, "time_zone": "Asia/Kolkata"}, headers=ADMIN)
    ).json()
    auth = {"Authorization": f"Bearer {created['api_key']}"}
    customer = await (
        await api.post("/v1/customers", json={"name": "Asha Rao", "phone": "+919800000001"}, headers=auth)
    ).json()
    return auth, int(customer["id"])


def _policy(customer_id: int, number: str, ends_in_days: int, **extra: Any) -> dict[str, Any]:
    end = date.today() + timedelta(days=ends_in_days)
    return {
        "customer_id": customer_id,
        "policy_number": number,
        "duration_months": 12,
        "end_date": end.isoformat(),
        **extra,
    }


def _fields(body: dict[str, Any]) -> set[str]:
    return {f["field"] for f in body.get("fields", [])}


async def test_config_is_validated_merged_and_tenant_scoped(api: Client) -> None:
    auth, _ = await _insurer(api)
    defaults = await (await api.get("/v1/scheduler/config", headers=auth)).json()
    assert (defaults["days_before_expiry"], defaults["max_calls_per_day"], defaults["call_time"]) == (
        30,
        50,
        "10:00:00",
    )
    changed = await api.put("/v1/scheduler/config", json={"max_calls_per_day": 20}, headers=auth)
    assert changed.status == 200
    body = await changed.json()
    assert (body["max_calls_per_day"], body["max_concurrent_calls"]) == (20, 5)
    assert body["settings_rollout"]["revision"] == 2  # the change is revision 2; its rollout wakes policies
    repeat = await (
        await api.put("/v1/scheduler/config", json={"max_calls_per_day": 20}, headers=auth)
    ).json()
    assert repeat["settings_rollout"] == body["settings_rollout"]  # a repeat is the same change
    progress_url = "/v1/businesses/me/settings-rollouts/2"

    async def rolled_out() -> bool:
        progress = await (await api.get(progress_url, headers=auth)).json()
        return bool(progress.get("finished"))

    await eventually(rolled_out, what="the rollout of revision 2")
    assert (await api.get("/v1/businesses/me/settings-rollouts/3", headers=auth)).status == 404
    bad = await api.put("/v1/scheduler/config", json={"max_calls_per_day": 0, "colour": "red"}, headers=auth)
    assert bad.status == 422 and _fields(await bad.json()) == {"max_calls_per_day", "colour"}
    window = await api.put("/v1/scheduler/config", json={"last_call_time": "09:00"}, headers=auth)
    assert window.status == 422 and "last_call_time must be after call_time" in await window.text()
    not_object = await api.put("/v1/scheduler/config", json=[1], headers=auth)
    assert not_object.status == 400
    other_auth, _ = await _insurer(api, "Other")
    other = await (await api.get("/v1/scheduler/config", headers=other_auth)).json()
    assert other["max_calls_per_day"] == 50


async def test_policy_validation_conflicts_and_isolation(api: Client) -> None:
    auth, customer_id = await _insurer(api)
    assert (await api.post("/v1/policies", json=_policy(customer_id, "P-1", 90), headers=auth)).status == 201
    duplicate = await api.post("/v1/policies", json=_policy(customer_id, "P-1", 90), headers=auth)
    assert duplicate.status == 409
    unknown = await api.post("/v1/policies", json=_policy(999_999, "P-2", 90), headers=auth)
    assert unknown.status == 404 and _fields(await unknown.json()) == {"customer_id"}
    bad = await api.post(
        "/v1/policies", json=_policy(customer_id, "", 90, duration_months=0, end_date="soon"), headers=auth
    )
    assert bad.status == 422 and _fields(await bad.json()) == {"policy_number", "duration_months", "end_date"}
    listed = await (await api.get("/v1/policies?status=active", headers=auth)).json()
    policy_id = listed["items"][0]["id"]
    assert (await api.get("/v1/policies?status=lapsed", headers=auth)).status == 422
    other_auth, _ = await _insurer(api, "Other")
    assert (await api.get(f"/v1/policies/{policy_id}", headers=other_auth)).status == 404
    assert (await api.post(f"/v1/policies/{policy_id}/cancel", headers=other_auth)).status == 404
    assert (await api.get("/v1/policies/abc", headers=auth)).status == 404


async def test_a_new_end_date_moves_the_next_call_and_a_cancelled_policy_cannot_change(api: Client) -> None:
    auth, customer_id = await _insurer(api)
    created = await (
        await api.post("/v1/policies", json=_policy(customer_id, "P-MOVE", 90), headers=auth)
    ).json()
    url = f"/v1/policies/{created['id']}"

    async def next_call_on(day: date) -> bool:
        view = (await (await api.get(url, headers=auth)).json())["workflow"]
        return bool(view and view["next_call_at"] and view["next_call_at"].startswith(day.isoformat()))

    first = date.today() + timedelta(days=60)
    await eventually(lambda: next_call_on(first), what="the first call 30 days before the end")
    moved = await api.patch(
        url, json={"end_date": (date.today() + timedelta(days=120)).isoformat()}, headers=auth
    )
    assert moved.status == 200
    await eventually(lambda: next_call_on(date.today() + timedelta(days=90)), what="the moved call")
    assert (await api.patch(url, json={"duration_months": None}, headers=auth)).status == 422
    assert (await api.post(f"{url}/cancel", headers=auth)).status == 200

    async def ended() -> bool:
        view = (await (await api.get(url, headers=auth)).json())["workflow"]
        return bool(view and view["phase"] == "cancelled")

    await eventually(ended, what="the workflow to end")
    assert (await api.patch(url, json={"product": "Home"}, headers=auth)).status == 409
    for action in ("cancel", "stop-calls"):  # repeats: the same answer, nothing changes
        again = await api.post(f"{url}/{action}", headers=auth)
        assert again.status == 200 and (await again.json())["status"] == "cancelled"


async def test_manual_calls_skip_window_cancel_and_summary_conflicts(api: Client) -> None:
    auth, customer_id = await _insurer(api)
    created = await (
        await api.post("/v1/policies", json=_policy(customer_id, "P-MAN", 90), headers=auth)
    ).json()
    soon = datetime.now(UTC) + timedelta(days=2)
    past = await api.post(
        "/v1/calls", json={"policy_id": created["id"], "scheduled_for": "2020-01-01T10:00:00Z"}, headers=auth
    )
    assert past.status == 422 and _fields(await past.json()) == {"scheduled_for"}
    missing = await api.post(
        "/v1/calls", json={"policy_id": 999_999, "scheduled_for": soon.isoformat()}, headers=auth
    )
    assert missing.status == 404
    call = await api.post(
        "/v1/calls", json={"policy_id": created["id"], "scheduled_for": soon.isoformat()}, headers=auth
    )
    assert call.status == 201
    call_id = (await call.json())["id"]
    too_close = await api.post(
        "/v1/calls",
        json={"policy_id": created["id"], "scheduled_for": (soon + timedelta(days=3)).isoformat()},
        headers=auth,
    )
    assert too_close.status == 409 and "skip_if_called_within_days" in await too_close.text()
    listed = await (
        await api.get(f"/v1/calls?policy_id={created['id']}&status=scheduled", headers=auth)
    ).json()
    assert [c["id"] for c in listed["items"]] == [call_id]
    assert (await api.get("/v1/calls?status=ringing", headers=auth)).status == 422
    summary = {"renewal_agreed": True, "summary": "yes"}
    assert (
        await api.put(f"/v1/calls/{call_id}/summary", json=summary, headers=auth)
    ).status == 409  # not answered
    assert (await api.put("/v1/calls/999999/summary", json=summary, headers=auth)).status == 404
    bad = await api.put(f"/v1/calls/{call_id}/summary", json={"renewal_agreed": "maybe"}, headers=auth)
    assert bad.status == 422 and _fields(await bad.json()) == {"renewal_agreed"}
    cancelled = await api.delete(f"/v1/calls/{call_id}", headers=auth)
    assert cancelled.status == 200 and (await cancelled.json())["status"] == "cancelled"
    assert (await api.delete(f"/v1/calls/{call_id}", headers=auth)).status == 200  # idempotent


async def test_cleanup_deletes_only_finished_calls_older_than_the_threshold(
    api: Client, sessions: SessionFactory
) -> None:
    auth, customer_id = await _insurer(api)
    created = await (
        await api.post("/v1/policies", json=_policy(customer_id, "P-OLD", 200), headers=auth)
    ).json()
    now = datetime.now(UTC)
    ages = {
        "old_finished": (CallStatus.NO_ANSWER, 31),
        "young_finished": (CallStatus.DECLINED, 29),
        "old_scheduled": (CallStatus.SCHEDULED, 31),
    }
    ids: dict[str, int] = {}
    business_id = int((await (await api.get("/v1/businesses/me", headers=auth)).json())["id"])
    async with sessions() as session:
        for name, (status, days) in ages.items():
            row = Call(business_id=business_id, policy_id=created["id"], kind="manual", status=status)
            session.add(row)
            await session.flush()
            await session.execute(
                update(Call).where(Call.id == row.id).values(created_at=now - timedelta(days=days))
            )
            ids[name] = row.id
        await session.commit()
    first = await (await api.post("/v1/calls/cleanup", json={"older_than_days": 30}, headers=auth)).json()
    second = await (await api.post("/v1/calls/cleanup", json={"older_than_days": 30}, headers=auth)).json()
    assert (first["deleted"], second["deleted"]) == (1, 0)
    left = await (await api.get(f"/v1/calls?policy_id={created['id']}", headers=auth)).json()
    assert sorted(c["id"] for c in left["items"]) == sorted([ids["young_finished"], ids["old_scheduled"]])
    assert (await api.post("/v1/calls/cleanup", json={"older_than_days": 0}, headers=auth)).status == 422
    placed = await api.delete(f"/v1/calls/{ids['young_finished']}", headers=auth)
    assert placed.status == 409 and "only scheduled calls" in await placed.text()
