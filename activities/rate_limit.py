"""A token bucket per provider in PostgreSQL, so every worker together stays under a provider's rate."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncSession

from db.engine import SessionFactory

_ENSURE = text(
    """
    INSERT INTO rate_buckets (name, rate, capacity, tokens, updated_at)
    VALUES (:name, :rate, :capacity, :capacity, clock_timestamp())
    ON CONFLICT (name) DO UPDATE SET rate = EXCLUDED.rate, capacity = EXCLUDED.capacity
    """
)
# One statement: refill by elapsed time, take a token if one is there. Row lock serialises the takers.
_TAKE = text(
    """
    WITH filled AS (
        SELECT name,
               LEAST(capacity, tokens + EXTRACT(EPOCH FROM clock_timestamp() - updated_at) * rate)
                   AS now_tokens
          FROM rate_buckets
         WHERE name = :name
           FOR UPDATE
    )
    UPDATE rate_buckets b
       SET tokens = CASE WHEN f.now_tokens >= 1 THEN f.now_tokens - 1 ELSE f.now_tokens END,
           updated_at = clock_timestamp()
      FROM filled f
     WHERE b.name = f.name
    RETURNING f.now_tokens >= 1 AS taken, b.tokens, b.rate
    """
)


class ProviderRateLimiter:
    """``await acquire(provider)`` waits until the provider's bucket gives a token."""

    def __init__(self, sessions: SessionFactory, rates: dict[str, float], *, burst_s: float = 1.0) -> None:
        self._sessions = sessions
        self._rates = rates
        self._burst_s = burst_s
        self._ensured: set[str] = set()

    async def acquire(
        self,
        provider: str,
        *,
        on_wait: Callable[[], None] | None = None,
        session: AsyncSession | None = None,
    ) -> None:
        """``session``: take the token on this session (with nothing uncommitted on it; each take is
        committed at once) instead of checking out a connection of its own: one pool checkout fewer per
        message on the send path."""
        rate = self._rates.get(provider)
        if not rate:
            return  # unlimited (e.g. the console)
        if provider not in self._ensured:
            async with self._sessions() as own, own.begin():
                await own.execute(
                    _ENSURE, {"name": provider, "rate": rate, "capacity": max(1.0, rate * self._burst_s)}
                )
            self._ensured.add(provider)
        while True:
            row = await self._take(provider, session)
            if row.taken:
                return
            if on_wait is not None:
                on_wait()
            await asyncio.sleep(max(0.005, (1 - row.tokens) / row.rate))

    async def _take(self, provider: str, session: AsyncSession | None) -> Row[Any]:
        if session is not None:
            row = (await session.execute(_TAKE, {"name": provider})).one()
            await session.commit()
            return row
        async with self._sessions() as own, own.begin():
            return (await own.execute(_TAKE, {"name": provider})).one()
