"""End to end on the dev server in real time: policies through the API, the real worker calling the local
voice-agent stub (it answers, declines or fails on command), the agent's summary coming back through
``PUT /v1/calls/{id}/summary``, trigger-now, and the real `temporal` CLI steering and finding policies."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from db.engine import SessionFactory
from keeptime.settings import Settings
from tests.appointment_support import eventually
from tests.policy_support import a_year_after
from tests.support import running_worker
from tests.test_e2e_appointments import temporal_cli
from tests.voice_agent_peer import VoiceAgentPeer

pytestmark = pytest.mark.e2e
Client = TestClient[web.Request, web.Application]
ADMIN = {"Authorization": "Bearer dev-admin-key"}
ZONE = "Asia/Kolkata"
ALL_DAY = {"call_time": "00:00:00", "last_call_time": "23:59:59", "call_retry_seconds": 1}


@pytest.fixture
async def api(
    provider_settings: Settings,
    dev_env: WorkflowEnvironment,
    sessions: SessionFactory,
    voice_agent: VoiceAgentPeer,
) -> AsyncIterator[Client]:
    settings = provider_settings.model_copy(
        update={"temporal_address": dev_env.client.service_client.config.target_host}
    )
    async with (
        running_worker(dev_env.client, sessions, settings),
        TestClient(TestServer(create_app(settings), host="127.0.0.1")) as client,
    ):
        voice_agent.callback_base = str(client.make_url("/"))
        yield client


def _today() -> date:
    return datetime.now(UTC).astimezone(ZoneInfo(ZONE)).date()


async def test_calls_renewal_decline_failure_trigger_and_cli(
    api: Client, dev_env: WorkflowEnvironment, voice_agent: VoiceAgentPeer
) -> None:
    created = await (
        await api.post("/v1/businesses", json={"name": "Shield", "time_zone": ZONE}, headers=ADMIN)
    ).json()
    auth = {"Authorization": f"Bearer {created['api_key']}"}
    voice_agent.api_key = created["api_key"]
    customer = await (
        await api.post("/v1/customers", json={"name": "Ravi Kumar", "phone": "+919812345678"}, headers=auth)
    ).json()
    config = await api.put("/v1/scheduler/config", json=ALL_DAY, headers=auth)
    assert config.status == 200, await config.text()

    async def policy(number: str, ends_in_days: int) -> dict[str, Any]:
        body = {
            "customer_id": customer["id"],
            "policy_number": number,
            "product": "Motor",
            "duration_months": 12,
            "end_date": (_today() + timedelta(days=ends_in_days)).isoformat(),
        }
        response = await api.post("/v1/policies", json=body, headers=auth)
        assert response.status == 201, await response.text()
        return dict(await response.json())

    async def shown(policy_id: int) -> dict[str, Any]:
        return dict(await (await api.get(f"/v1/policies/{policy_id}", headers=auth)).json())

    # The agent's behaviour per policy is set before the policy exists (ids are predictable only after).
    voice_agent.default = "no_answer"
    renewing = await policy("E2E-RENEW", 10)
    voice_agent.scripts[renewing["id"]] = ["answered"]
    voice_agent.summary_for[renewing["id"]] = True
    await eventually(lambda: _term(shown, renewing["id"], 2), timeout_s=30, what="the renewal")
    renewed = await shown(renewing["id"])
    # a year after the first end, not "this year + 1" (wrong when the end falls in the next year)
    assert renewed["end_date"] == a_year_after(_today() + timedelta(days=10)).isoformat()
    assert [(c["status"], c["renewal_agreed"]) for c in renewed["calls"]] == [("completed", True)]
    call_id = renewed["calls"][0]["id"]

    async def renewal_events() -> list[tuple[str, str]]:
        query = "/v1/events?type=call.answered,call.completed,policy.renewed"
        feed = await (await api.get(query, headers=auth)).json()
        return [
            (e["type"], e["entity"]) for e in feed["items"] if e["data"].get("policy_id") == renewing["id"]
        ]

    async def three() -> bool:  # the feed's horizon may be held back a moment on a shared server
        return len(await renewal_events()) >= 3

    await eventually(three, timeout_s=30, what="the renewal's events")
    ours = await renewal_events()
    assert ours == [  # the outbox: each step of the call and the renewal, once, in order
        ("call.answered", f"call:{call_id}"),
        ("call.completed", f"call:{call_id}"),
        ("policy.renewed", f"policy:{renewing['id']}"),
    ]

    declining = await policy("E2E-DECLINE", 12)
    voice_agent.scripts[declining["id"]] = ["declined"]
    failing = await policy("E2E-FAIL", 14)
    voice_agent.scripts[failing["id"]] = ["fail", "no_answer"]
    await eventually(lambda: _phase(shown, declining["id"], "calls_done"), timeout_s=30, what="the decline")
    await eventually(
        lambda: _calls(shown, failing["id"], ["no_answer"]), timeout_s=30, what="retry after 503"
    )
    assert len(voice_agent.calls_for(failing["id"])) == 1  # the 503 placed no call

    address, tenant = dev_env.client.service_client.config.target_host, created["business"]["id"]
    found = await asyncio.to_thread(
        temporal_cli,
        address,
        "workflow",
        "list",
        "--query",
        f'KeeptimeTenant="{tenant}" AND KeeptimeEntity="policy" AND KeeptimeStatus="calls_done"',
    )
    assert declining["workflow_id"] in found and failing["workflow_id"] not in found
    await asyncio.to_thread(
        temporal_cli,
        address,
        "workflow",
        "signal",
        "--workflow-id",
        failing["workflow_id"],
        "--name",
        "stop_calls",
    )
    await eventually(
        lambda: _phase(shown, failing["id"], "calls_done"), timeout_s=15, what="stop_calls by CLI"
    )
    assert (await shown(failing["id"]))["calls_stopped"] is True

    later = await policy("E2E-LATER", 60)  # its first call is 30 days away
    # The workflow's phase starts as call_scheduled before its first plan: wait for the planned call itself
    # (in the row, which is what /scheduler/pending reads), not for the phase.
    await eventually(lambda: _planned(shown, later["id"]), timeout_s=15, what="planning")
    pending = await (await api.get("/v1/scheduler/pending?within_days=31", headers=auth)).json()
    assert [p["policy_id"] for p in pending["items"]] == [later["id"]]
    triggered = await api.post("/v1/scheduler/trigger", json={"within_days": 31}, headers=auth)
    assert (await triggered.json())["policy_ids"] == [later["id"]]
    await eventually(
        lambda: _calls(shown, later["id"], ["no_answer"]), timeout_s=30, what="the triggered call"
    )

    stats = await (await api.get("/v1/scheduler/stats", headers=auth)).json()
    assert (stats["completed"], stats["renewals_agreed"], stats["failed"], stats["enabled"]) == (
        4,
        1,
        0,
        True,
    )


async def _term(shown: Any, policy_id: int, term: int) -> bool:
    view = await shown(policy_id)
    return bool(view["term"] == term and view["workflow"] and view["workflow"]["term"] == term)


async def _phase(shown: Any, policy_id: int, phase: str) -> bool:
    view = await shown(policy_id)
    return bool(view["workflow"] and view["workflow"]["phase"] == phase)


async def _planned(shown: Any, policy_id: int) -> bool:
    return (await shown(policy_id))["next_call_at"] is not None


async def _calls(shown: Any, policy_id: int, statuses: list[str]) -> bool:
    return [c["status"] for c in (await shown(policy_id))["calls"]] == statuses
