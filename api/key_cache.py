"""Business API keys recently found valid, so most requests authenticate without a query."""

from __future__ import annotations

import time

KEY_CACHE_S = 5.0  # a key revoked in the database stops working within this long


class ApiKeyCache:
    """Business keys recently found valid, for ``KEY_CACHE_S``: most requests then need no query (and no
    pool checkout) to authenticate. Unknown keys are never cached: a new key works at once."""

    def __init__(self, ttl_s: float = KEY_CACHE_S, size: int = 4096) -> None:
        self._ttl_s = ttl_s
        self._size = size
        self._found: dict[str, tuple[int, float]] = {}

    def get(self, token: str) -> int | None:
        hit = self._found.get(token)
        if hit is None or hit[1] < time.monotonic():
            self._found.pop(token, None)
            return None
        return hit[0]

    def put(self, token: str, business_id: int) -> None:
        if len(self._found) >= self._size:
            self._found.clear()  # bounded: a flood of distinct valid keys only costs queries again
        self._found[token] = (business_id, time.monotonic() + self._ttl_s)
