"""The API over real HTTP: health, readiness, JSON errors, request ids, OpenAPI, and the health check run."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from db.engine import SessionFactory
from keeptime.settings import Settings
from tests.support import free_port, running_worker

ADMIN = {"Authorization": "Bearer dev-admin-key"}


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    async with TestClient(TestServer(create_app(settings), host="127.0.0.1")) as client:
        yield client


async def test_healthz_says_up(api: TestClient[web.Request, web.Application]) -> None:
    response = await api.get("/healthz")
    assert response.status == 200
    assert await response.json() == {"status": "ok"}


async def test_readyz_is_green_with_postgres_and_temporal_up(
    api: TestClient[web.Request, web.Application],
) -> None:
    response = await api.get("/readyz")
    assert response.status == 200, await response.text()
    assert (await response.json())["checks"] == {"postgres": {"ok": True}, "temporal": {"ok": True}}


async def test_readyz_is_503_with_a_reason_when_temporal_is_unreachable(settings: Settings) -> None:
    broken = settings.model_copy(update={"temporal_address": f"127.0.0.1:{free_port()}"})
    async with TestClient(TestServer(create_app(broken), host="127.0.0.1")) as client:
        response = await client.get("/readyz")
        body = await response.json()
    assert response.status == 503
    assert body["status"] == "not_ready"
    assert body["checks"]["postgres"] == {"ok": True}
    assert body["checks"]["temporal"]["ok"] is False
    assert body["checks"]["temporal"]["reason"]


async def test_readyz_is_503_when_postgres_is_unreachable(settings: Settings) -> None:
    broken = settings.model_copy(
        update={"database_url": f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nothing"}
    )
    async with TestClient(TestServer(create_app(broken), host="127.0.0.1")) as client:
        response = await client.get("/readyz")
        body = await response.json()
    assert response.status == 503
    assert body["checks"]["postgres"]["ok"] is False
    assert body["checks"]["temporal"] == {"ok": True}


async def test_unknown_path_and_wrong_method_are_json(api: TestClient[web.Request, web.Application]) -> None:
    missing = await api.get("/v1/nothing-here")
    assert missing.status == 404
    assert (await missing.json())["error"] == "not_found"
    wrong = await api.delete("/healthz")
    assert wrong.status == 405
    assert (await wrong.json())["error"] == "method_not_allowed"
    assert "GET" in wrong.headers["Allow"]


async def test_admin_endpoints_need_the_admin_key(api: TestClient[web.Request, web.Application]) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic x"}):
        response = await api.post("/v1/health-checks", headers=headers)
        assert response.status == 401
        body = await response.json()
        assert body["error"] == "unauthorized"
        assert body["fields"][0]["field"] == "Authorization"


async def test_request_id_is_echoed_or_made(api: TestClient[web.Request, web.Application]) -> None:
    given = await api.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert given.headers["X-Request-ID"] == "abc-123"
    made = await api.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert len(made.headers["X-Request-ID"]) == 32


async def test_openapi_lists_every_route(api: TestClient[web.Request, web.Application]) -> None:
    document = await (await api.get("/openapi.json")).json()
    assert document["openapi"].startswith("3.")
    assert set(document["paths"]) >= {"/healthz", "/readyz", "/v1/health-checks", "/v1/health-checks/latest"}
    assert document["paths"]["/v1/health-checks"]["post"]["security"] == [{"bearer": []}]


async def test_health_check_runs_through_temporal_and_is_readable_afterwards(
    api: TestClient[web.Request, web.Application],
    dev_env: WorkflowEnvironment,
    sessions: SessionFactory,
    settings: Settings,
) -> None:
    assert (await api.get("/v1/health-checks/latest", headers=ADMIN)).status == 404
    async with running_worker(dev_env.client, sessions, settings):
        ran = await api.post("/v1/health-checks", headers=ADMIN)
        assert ran.status == 200, await ran.text()
        report = await ran.json()
    assert report["workflow_id"].startswith("health-check-")
    latest = await (await api.get("/v1/health-checks/latest", headers=ADMIN)).json()
    assert latest["workflow_id"] == report["workflow_id"]
    assert {t["table"] for t in latest["tables"]} == {t["table"] for t in report["tables"]}
