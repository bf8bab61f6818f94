"""The API key cache: a found key is remembered for its TTL, then looked up again."""

from __future__ import annotations

import time

from api.key_cache import ApiKeyCache


def test_a_key_is_remembered_until_its_ttl_passes() -> None:
    cache = ApiKeyCache(ttl_s=0.05)
    assert cache.get("k") is None
    cache.put("k", 7)
    assert cache.get("k") == 7
    time.sleep(0.06)
    assert cache.get("k") is None  # a revoked key stops working within the TTL


def test_the_cache_stays_bounded() -> None:
    cache = ApiKeyCache(size=3)
    for n in range(10):
        cache.put(f"k{n}", n)
    assert cache.get("k9") == 9
    assert sum(cache.get(f"k{n}") is not None for n in range(10)) <= 3
