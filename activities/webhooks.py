"""The webhook relay: one long activity that delivers every business's events to its endpoints.

A run (``relay_webhooks``) lasts ``run_for_s`` (the ``webhook-relay`` Schedule starts the next as it ends)
and holds a PostgreSQL advisory lock all along, so two runs never relay at once: a retry after a lost
heartbeat waits for the lock until the attempt before it has really stopped (a killed worker's connection
closes, which releases it). Every ``poll_s`` the run starts a pass for each enabled endpoint that has none
going, and at once when an event commits (PostgreSQL's NOTIFY on ``keeptime_events``); a pass fans the
endpoint's new events in (db.webhooks.fan_in) and sends its due deliveries, up to
``PER_ENDPOINT`` at once and at most one per entity. Passes run side by side, so a slow, dead or hostile
endpoint holds only its own pass, each attempt being bounded (connect 3 s, whole attempt 10 s, at most 4 KiB
of the answer read, no redirect followed).

Targets are checked at each attempt, not only at registration: the URL by ``domain.webhooks.check_url``,
and each address its host resolves to by the connector's resolver, which drops any address that is not
public. The connection is made to the addresses that resolver returned, so a DNS answer that changes
between the check and the connection (rebinding) cannot point it elsewhere. Development and the tests
allow http and loopback (``WEBHOOKS_ALLOW_PRIVATE``, on in development mode).
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import time
from contextlib import suppress
from datetime import UTC, datetime

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection
from temporalio import activity

from db import webhooks as store
from db.engine import SessionFactory
from db.events import as_event
from db.models import EventRecord, WebhookDelivery, WebhookEndpoint
from domain.events import event_id
from domain.webhooks import (
    ATTEMPT_TIMEOUT_S,
    BODY_READ_MAX,
    CONNECT_TIMEOUT_S,
    BadTarget,
    RelayWebhooksInput,
    RelayWebhooksResult,
    address_allowed,
    check_url,
    signed_headers,
)
from keeptime.settings import Settings

log = logging.getLogger("keeptime.webhooks")

CHANNEL = "keeptime_events"
LOCK_KEY = 0x6B74_7768  # "ktwh": pg_advisory_lock's key of the one relay
PER_ENDPOINT = 8  # deliveries of one endpoint in flight at once (distinct entities)
CONNECTIONS = 64  # of the whole relay


class PublicOnlyResolver(AbstractResolver):
    """Resolves like the default resolver, then keeps only addresses Keeptime may connect to."""

    def __init__(self, allow_private: bool) -> None:
        self._inner = aiohttp.ThreadedResolver()
        self._allow_private = allow_private

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        kept = [r for r in found if address_allowed(r["host"], allow_private=self._allow_private)]
        if not kept:
            raise OSError(f"{host} resolves to no public address (refused: loopback, private, link-local)")
        return kept

    async def close(self) -> None:
        await self._inner.close()


def relay_http(allow_private: bool) -> aiohttp.ClientSession:
    """The relay's own HTTP client: the guarding resolver, no DNS cache (each attempt resolves again), no
    proxy from the environment, no cookies kept between receivers."""
    connector = aiohttp.TCPConnector(
        resolver=PublicOnlyResolver(allow_private),
        use_dns_cache=False,
        limit=CONNECTIONS,
        limit_per_host=PER_ENDPOINT,
    )
    return aiohttp.ClientSession(
        connector=connector,
        trust_env=False,
        cookie_jar=aiohttp.DummyCookieJar(),
        headers={"User-Agent": "Keeptime-Webhooks/1"},
    )


class WebhookActivities:
    def __init__(self, sessions: SessionFactory, settings: Settings) -> None:
        self._sessions = sessions
        self._allow_private = settings.webhooks_private_targets

    @activity.defn
    async def relay_webhooks(self, run: RelayWebhooksInput) -> RelayWebhooksResult:
        """Deliver for ``run.run_for_s``; heartbeats throughout (a heartbeat timeout retries it)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + run.run_for_s
        result = RelayWebhooksResult()
        async with self._sessions() as lock_session:
            lock = await lock_session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
            while not (await lock.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": LOCK_KEY})).scalar():
                activity.heartbeat("waiting for the relay before this one to stop")
                if loop.time() >= deadline:
                    return result
                await asyncio.sleep(1.0)
            try:
                woken = await _listen(lock)
                async with relay_http(self._allow_private) as http:
                    relay = Relay(self._sessions, http, self._allow_private, result)
                    try:
                        while loop.time() < deadline:
                            activity.heartbeat(result.model_dump())
                            woken.clear()
                            relay.tick()
                            # the next commit of an event wakes the loop at once; else the next poll does
                            with suppress(TimeoutError):
                                await asyncio.wait_for(woken.wait(), run.poll_s)
                        await relay.drain()
                    finally:
                        # cancelled (the worker stops, a heartbeat was lost): no pass outlives the lock
                        await relay.stop()
            finally:
                try:
                    await lock.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY})
                except BaseException:
                    # never hand a connection that may still hold the lock back to the pool
                    await lock.invalidate()
                    raise
        return result


async def _listen(lock: AsyncConnection) -> asyncio.Event:
    """An event set by each ``keeptime_events`` notification (migration 0027: one per committed insert of
    events), on the lock's own connection. Where LISTEN is not available (a pooler in transaction mode),
    the relay just polls."""
    woken = asyncio.Event()
    try:
        raw = (await lock.get_raw_connection()).driver_connection
        assert raw is not None
        await raw.add_listener(CHANNEL, lambda *_: woken.set())
    except Exception:
        log.warning("LISTEN %s failed: the relay polls only", CHANNEL, exc_info=True)
    return woken


class Relay:
    """The passes of one run, one task per endpoint at most."""

    def __init__(
        self,
        sessions: SessionFactory,
        http: aiohttp.ClientSession,
        allow_private: bool,
        result: RelayWebhooksResult,
    ) -> None:
        self._sessions = sessions
        self._http = http
        self._allow_private = allow_private
        self._result = result
        self._passes: dict[int, asyncio.Task[None]] = {}
        self._listing: asyncio.Task[None] | None = None

    def tick(self) -> None:
        if self._listing is None or self._listing.done():
            self._listing = asyncio.create_task(self._start_passes())

    async def drain(self) -> None:
        """Let passes in flight finish (each attempt is bounded), so their outcomes are recorded."""
        tasks = [t for t in (self._listing, *self._passes.values()) if t is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=ATTEMPT_TIMEOUT_S + 5)

    async def stop(self) -> None:
        tasks = [t for t in (self._listing, *self._passes.values()) if t is not None and not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)

    async def _start_passes(self) -> None:
        try:
            async with self._sessions() as session:
                targets = await store.enabled_endpoints(session)
        except Exception:
            log.exception("the relay could not list the endpoints; trying again")
            return
        for endpoint in targets:
            running = self._passes.get(endpoint.id)
            if running is None or running.done():
                self._passes[endpoint.id] = asyncio.create_task(self._pass(endpoint))

    async def _pass(self, endpoint: WebhookEndpoint) -> None:
        try:
            async with self._sessions() as session:
                await store.fan_in(session, endpoint.id)
            now = datetime.now(UTC)
            async with self._sessions() as session:
                batch = await store.due(session, endpoint.id, now, PER_ENDPOINT)
            secrets = store.secrets_in_use(endpoint, now)
            outcomes = await asyncio.gather(
                *(self._attempt(endpoint, secrets, d, e) for d, e in batch), return_exceptions=True
            )
            for outcome in outcomes:
                if isinstance(outcome, Exception):  # its outcome was not recorded: it stays pending
                    log.warning("webhook attempt of endpoint %s not recorded: %s", endpoint.id, outcome)
        except Exception:
            # PostgreSQL away, say: the deliveries stay pending and the next pass tries again.
            log.exception("webhook pass of endpoint %s failed; the next pass tries again", endpoint.id)

    async def _attempt(
        self, endpoint: WebhookEndpoint, secrets: list[str], delivery: WebhookDelivery, event: EventRecord
    ) -> None:
        outcome = await post(self._http, endpoint.url, secrets, event, self._allow_private)
        async with self._sessions() as session:
            settled = await store.settle(
                session, delivery.id, outcome, datetime.now(UTC), random.uniform(-1.0, 1.0)
            )
        if outcome.ok:
            self._result.delivered += 1
        else:
            self._result.failed_attempts += 1
        self._result.given_up += settled.state == "failed"
        self._result.endpoints_disabled += settled.endpoint_disabled


def body_of(event: EventRecord) -> bytes:
    return as_event(event).model_dump_json().encode()


async def post(
    http: aiohttp.ClientSession, url: str, secrets: list[str], event: EventRecord, allow_private: bool
) -> store.AttemptOutcome:
    """One signed attempt; its outcome, whatever the receiver does (never raises for the receiver's sake)."""
    started = time.monotonic()
    status: int | None = None
    try:
        check_url(url, allow_private=allow_private)
        body = body_of(event)
        headers = signed_headers(secrets, event_id(event.id), int(time.time()), body)
        timeout = aiohttp.ClientTimeout(total=ATTEMPT_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)
        async with http.post(
            url, data=body, headers=headers, allow_redirects=False, timeout=timeout
        ) as answer:
            status = answer.status
            await answer.content.read(BODY_READ_MAX)  # the rest is never read: the connection is dropped
        error = None if 200 <= status < 300 else _answer_error(status)
    except BadTarget as exc:
        error = f"refused target: {exc}"
    except TimeoutError:
        error = f"no answer within {ATTEMPT_TIMEOUT_S:.0f} s"
    except aiohttp.ClientError as exc:
        error = f"{type(exc).__name__}: {exc}"
    except OSError as exc:
        error = f"connection failed: {exc}"
    latency_ms = int((time.monotonic() - started) * 1000)
    return store.AttemptOutcome(ok=error is None, status_code=status, latency_ms=latency_ms, error=error)


def _answer_error(status: int) -> str:
    if 300 <= status < 400:
        return f"answered {status}: redirects are not followed (register the final URL)"
    return f"answered {status}"
