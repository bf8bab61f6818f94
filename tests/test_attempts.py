"""activities.attempts: an attempt heartbeats for its whole life and ends before Temporal starts a retry."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta

import pytest
from temporalio import activity
from temporalio.testing import ActivityEnvironment

from activities import attempts


@pytest.fixture
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(attempts, "HEARTBEAT_EVERY", timedelta(milliseconds=20))
    monkeypatch.setattr(attempts, "MARGIN", timedelta(milliseconds=100))


def _environment(start_to_close: timedelta, beats: list[object]) -> ActivityEnvironment:
    environment = ActivityEnvironment()
    environment.info = dataclasses.replace(environment.info, start_to_close_timeout=start_to_close)
    environment.on_heartbeat = lambda *details: beats.append(details)
    return environment


@activity.defn
async def slow_send(seconds: float) -> str:
    async with attempts.bounded_attempt():
        await asyncio.sleep(seconds)  # a provider that does not answer
    return "sent"


async def test_an_attempt_heartbeats_while_it_waits_not_only_at_its_start(quick: None) -> None:
    beats: list[object] = []
    assert await _environment(timedelta(seconds=5), beats).run(slow_send, 0.3) == "sent"
    assert len(beats) >= 10  # every 20 ms for 300 ms: the heartbeat timeout only catches a dead worker


async def test_an_attempt_ends_itself_before_its_start_to_close_timeout(quick: None) -> None:
    beats: list[object] = []
    started = asyncio.get_running_loop().time()
    with pytest.raises(TimeoutError):
        await _environment(timedelta(milliseconds=500), beats).run(slow_send, 10)
    ended = asyncio.get_running_loop().time() - started
    assert ended < 0.5  # 100 ms before Temporal would time it out and schedule the retry


async def test_an_attempt_shorter_than_the_beat_interval_never_heartbeats(quick: None) -> None:
    # the SDK sends a first heartbeat to the server at once: one RPC and one server write per short send
    beats: list[object] = []
    assert await _environment(timedelta(seconds=5), beats).run(slow_send, 0.005) == "sent"
    assert beats == []
