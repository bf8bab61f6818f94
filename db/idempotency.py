"""Creating a resource once per ``Idempotency-Key``: the key, its request's hash and the row it made are
claimed in ``idempotent_requests`` in the creating transaction. A retry after the first committed finds the
key and answers with that row; two at once both insert, the second's claim waits on the first's
uncommitted key (its primary key), finds it taken, and rolls its own row back. The hash covers the route,
so a key used for one kind of resource is a conflict on another (one key, one request)."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.conflicts import FieldConflict
from db.models import IdempotentRequest

Row = TypeVar("Row")


class _KeyTaken(Exception):
    """Another request with the same key committed first."""


def request_hash(route: str, body: dict[str, Any]) -> str:
    return hashlib.sha256(repr((route, sorted(body.items()))).encode()).hexdigest()


async def create_once(
    session: AsyncSession,
    business_id: int,
    key: str | None,
    body_hash: str,
    create: Callable[[], Awaitable[Row]],
    load: Callable[[int], Awaitable[Row | None]],
    id_of: Callable[[Row], int],
) -> tuple[Row, bool]:
    """The row this key made (False), or a new one (True). Without a key: always a new row. Commits."""
    try:
        async with session.begin():
            if key is not None:
                earlier = await _made_with(session, business_id, key, body_hash, load)
                if earlier is not None:
                    return earlier, False
            row = await create()
            if key is not None:
                await session.flush()
                claimed = await session.execute(
                    insert(IdempotentRequest)
                    .values(business_id=business_id, key=key, request_hash=body_hash, resource_id=id_of(row))
                    .on_conflict_do_nothing()
                    .returning(IdempotentRequest.key)
                )
                if claimed.first() is None:
                    raise _KeyTaken
            return row, True
    except _KeyTaken:
        assert key is not None
        async with session.begin():
            first = await _made_with(session, business_id, key, body_hash, load)
            assert first is not None  # committed before our claim returned
            return first, False


async def _made_with(
    session: AsyncSession,
    business_id: int,
    key: str,
    body_hash: str,
    load: Callable[[int], Awaitable[Row | None]],
) -> Row | None:
    earlier = await session.get(IdempotentRequest, (business_id, key))
    if earlier is None:
        return None
    if earlier.request_hash != body_hash:
        raise FieldConflict("Idempotency-Key", "this Idempotency-Key was used with a different request")
    return await load(earlier.resource_id)
