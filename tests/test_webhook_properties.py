"""Property: whatever sequence of changes, relay crashes (a run killed at any moment, mid-delivery included),
PostgreSQL failures and receiver failures happens, every committed event reaches the endpoint at least
once, and per entity the receiver first takes the events in the order they were committed (issue 33)."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta
from typing import Any

import pytest
import standardwebhooks
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from db.engine import SessionFactory
from domain import webhooks as rules
from keeptime.settings import Settings
from services import webhooks
from tests.appointment_support import eventually
from tests.factories import make_business
from tests.webhook_support import receiving, record_change, relaying

step = st.one_of(
    st.tuples(st.just("change"), st.integers(1, 2)),
    st.tuples(st.just("change"), st.integers(1, 2)),
    st.tuples(st.just("crash_after_ms"), st.integers(0, 400)),
    st.tuples(st.just("database_down"), st.integers(1, 9)),  # in 10 sessions fail while a run relays
    st.tuples(st.just("receiver_fails"), st.integers(1, 3)),
)


class FlakySessions:
    """The session factory while PostgreSQL comes and goes: each session fails to open at ``rate``."""

    def __init__(self, sessions: SessionFactory, rate: float, seed: int) -> None:
        self._sessions = sessions
        self._rate = rate
        self._random = random.Random(seed)

    def __call__(self) -> Any:
        if self._random.random() < self._rate:
            raise ConnectionRefusedError("PostgreSQL is down")
        return self._sessions()


async def _run_briefly(sessions: Any, settings_: Settings, seconds: float) -> None:
    async with relaying(sessions, settings_, poll_s=0.02):
        await asyncio.sleep(seconds)  # then the run is killed, wherever it is


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    phases=[Phase.explicit, Phase.generate],  # each example runs real servers; the blob reproduces
    print_blob=True,
)
@given(
    steps=st.lists(step, min_size=2, max_size=12),
    seed=st.integers(0, 2**16),
    flaky=st.sampled_from([0.0, 0.3, 0.6]),
)
async def test_every_committed_event_arrives_in_entity_order_through_crashes(
    sessions: SessionFactory,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    steps: list[tuple[str, int]],
    seed: int,
    flaky: float,
) -> None:
    monkeypatch.setattr(rules, "RETRY_FIRST", timedelta(milliseconds=50))
    monkeypatch.setattr(rules, "RETRY_CAP", timedelta(milliseconds=200))
    config = Settings(database_url=database_url, webhooks_allow_private=True)
    business = await make_business(sessions)
    committed: dict[int, list[str]] = {1: [], 2: []}
    async with receiving() as receiver:
        receiver.fail_rate, receiver._random = flaky, random.Random(seed)  # the receiver fails at random too
        endpoint, _ = await webhooks.create(
            sessions,
            config,
            business.id,
            {"url": receiver.url("app"), "description": None, "event_types": None},
        )
        for kind, value in steps:
            if kind == "change":
                committed[value].append(
                    f"evt_{await record_change(sessions, business.id, value, 'confirmed')}"
                )
            elif kind == "crash_after_ms":
                await _run_briefly(sessions, config, value / 1000)
            elif kind == "database_down":
                await _run_briefly(FlakySessions(sessions, value / 10, seed), config, 0.3)
            else:
                receiver.plans.setdefault("app", []).extend([("status", 503)] * value)
        expected = {event for events in committed.values() for event in events}
        receiver.fail_rate = 0.0
        async with relaying(sessions, config, poll_s=0.02):
            await eventually(
                lambda: _has([r.headers["webhook-id"] for r in receiver.accepted("app")], expected),
                timeout_s=30,
                what="every committed event",
            )
    verifier = standardwebhooks.Webhook(endpoint.secret)
    firsts: dict[str, list[str]] = {}
    for got in receiver.on("app"):
        verifier.verify(got.body, got.headers)  # every attempt, duplicates too, is signed
    for got in receiver.accepted("app"):
        event = verifier.verify(got.body, got.headers)
        seen = firsts.setdefault(event["entity"], [])
        if event["id"] not in seen:
            seen.append(event["id"])
    for entity, events in committed.items():
        assert firsts.get(f"appointment:{entity}", []) == events, entity


async def _has(got: list[str], expected: set[str]) -> bool:
    return expected <= set(got)
