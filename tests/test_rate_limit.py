"""The per-provider token bucket in PostgreSQL, shared by every limiter on the same database."""

from __future__ import annotations

import asyncio

import pytest

from activities.rate_limit import ProviderRateLimiter
from db.engine import SessionFactory


async def test_a_full_bucket_gives_its_burst_then_makes_callers_wait(sessions: SessionFactory) -> None:
    limiter = ProviderRateLimiter(sessions, {"twilio": 0.01}, burst_s=300)  # capacity 3, one token per 100 s
    for _ in range(3):
        await asyncio.wait_for(limiter.acquire("twilio"), 5)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(limiter.acquire("twilio"), 0.5)


async def test_two_workers_share_one_bucket(sessions: SessionFactory) -> None:
    first = ProviderRateLimiter(sessions, {"fcm": 0.01}, burst_s=200)  # capacity 2
    second = ProviderRateLimiter(sessions, {"fcm": 0.01}, burst_s=200)
    await first.acquire("fcm")
    await second.acquire("fcm")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(second.acquire("fcm"), 0.5)


async def test_unlimited_providers_never_wait(sessions: SessionFactory) -> None:
    limiter = ProviderRateLimiter(sessions, {"twilio": 0.01})
    for _ in range(50):
        await asyncio.wait_for(limiter.acquire("console"), 1)
