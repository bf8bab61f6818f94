"""Webhook endpoints of a business: register (secret shown once), change, rotate, remove, replay, read the
delivery log. The relay (activities.webhooks, the ``webhook-relay`` Schedule) does the delivering.

A URL is checked when it is registered or changed: https (http and private addresses only where
``WEBHOOKS_ALLOW_PRIVATE`` allows, i.e. development), and its host must resolve, to public addresses only.
The relay checks again at every attempt (DNS can change after registration)."""

from __future__ import annotations

import asyncio
import secrets
import socket
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from db import webhooks as store
from db.engine import SessionFactory
from db.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from db.repeats import body_digest
from domain.webhooks import SECRET_BYTES, BadTarget, address_allowed, check_url, format_secret
from keeptime.settings import Settings

Endpoint = WebhookEndpoint
Attempt = WebhookAttempt
Delivery = WebhookDelivery
EndpointConflict = store.EndpointConflict
RESOLVE_TIMEOUT_S = 5.0
TooManyToReplay = store.TooManyToReplay


def new_secret() -> str:
    return format_secret(secrets.token_bytes(SECRET_BYTES))


async def check_target(url: str, settings: Settings) -> None:
    """Raises ``BadTarget`` unless Keeptime may deliver to ``url`` (see the module's docstring)."""
    allow_private = settings.webhooks_private_targets
    host, port = check_url(url, allow_private=allow_private)
    try:
        async with asyncio.timeout(RESOLVE_TIMEOUT_S):
            found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except TimeoutError as exc:
        raise BadTarget(f"{host} did not resolve within {RESOLVE_TIMEOUT_S:.0f} s") from exc
    except OSError as exc:
        raise BadTarget(f"{host} does not resolve") from exc
    refused = sorted(
        {
            str(info[4][0])
            for info in found
            if not address_allowed(str(info[4][0]), allow_private=allow_private)
        }
    )
    if refused or not found:
        raise BadTarget(f"{host} resolves to addresses that are not public: {', '.join(refused)}")


async def create(
    sessions: SessionFactory, settings: Settings, business_id: int, values: dict[str, Any]
) -> tuple[WebhookEndpoint, bool]:
    """The new endpoint with its secret, or the one the same body made (False). Raises ``BadTarget``,
    ``EndpointConflict``."""
    await check_target(values["url"], settings)
    async with sessions() as session:
        return await store.create_endpoint(session, business_id, values, new_secret(), body_digest(values))


async def list_endpoints(
    sessions: SessionFactory, business_id: int, after_id: int | None, limit: int
) -> list[WebhookEndpoint]:
    async with sessions() as session:
        return await store.endpoints(session, business_id, after_id, limit)


async def get(sessions: SessionFactory, business_id: int, endpoint_id: int) -> WebhookEndpoint | None:
    async with sessions() as session:
        return await store.endpoint(session, business_id, endpoint_id)


async def update(
    sessions: SessionFactory, settings: Settings, business_id: int, endpoint_id: int, changes: dict[str, Any]
) -> WebhookEndpoint | None:
    if "url" in changes:
        await check_target(changes["url"], settings)
    async with sessions() as session:
        return await store.update_endpoint(session, business_id, endpoint_id, changes)


async def remove(sessions: SessionFactory, business_id: int, endpoint_id: int) -> bool:
    async with sessions() as session:
        return await store.delete_endpoint(session, business_id, endpoint_id)


async def rotate(
    sessions: SessionFactory, business_id: int, endpoint_id: int, key: str | None
) -> WebhookEndpoint | None:
    async with sessions() as session:
        return await store.rotate_secret(
            session, business_id, endpoint_id, new_secret(), datetime.now(UTC), key
        )


async def attempts(
    sessions: SessionFactory, business_id: int, endpoint_id: int, after_id: int | None, limit: int
) -> list[WebhookAttempt] | None:
    """The endpoint's delivery log, newest first; None: no such endpoint."""
    async with sessions() as session:
        if await store.endpoint(session, business_id, endpoint_id) is None:
            return None
        return await store.attempts(session, endpoint_id, after_id, limit)


async def deliveries(
    sessions: SessionFactory,
    business_id: int,
    endpoint_id: int,
    state: str | None,
    after_id: int | None,
    limit: int,
) -> list[WebhookDelivery] | None:
    async with sessions() as session:
        if await store.endpoint(session, business_id, endpoint_id) is None:
            return None
        return await store.deliveries(session, endpoint_id, state, after_id, limit)


async def replay(
    sessions: SessionFactory,
    business_id: int,
    endpoint_id: int,
    *,
    event_ids: Sequence[int] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> int | None:
    """How many events go out again (None: no such endpoint). Raises ``TooManyToReplay``."""
    async with sessions() as session:
        row = await store.endpoint(session, business_id, endpoint_id)
        if row is None:
            return None
        await session.commit()
        return await store.replay(
            session, row, datetime.now(UTC), event_ids=event_ids, since=since, until=until
        )
