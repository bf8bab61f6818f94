"""Webhook delivery: latency from a change's commit to the receiver, and what one endpoint costs a booking.

    .venv/bin/python -m bench.webhooks [--rate 20] [--seconds 30] [--rounds 3] [--bookings 300]

Part 1, latency. Changes commit at ``--rate`` per second (each its own transaction writing one event, as a
status change does) for ``--seconds``; the relay (the ``relay_webhooks`` activity, as the worker runs it)
delivers them to a receiver on 127.0.0.1. Per event: commit -> fanned in (the delivery row's insert) ->
received, so the phases show where the time goes. The baseline in the same round is the floor of any
push: the committing process POSTs the same signed body to the same receiver itself, right after its commit
(what a synchronous webhook call in the request would cost, without its failure modes). Printed: p50 and
p99 of each, per round, and the medians of 3 with the ratio relay / direct.

Part 2, cost per booking. Bookings through the real API process (``python -m api``) on the dev server, the
relay running throughout, in rounds alternating between no endpoint and one enabled endpoint that receives
every event. Printed: bookings per second each way, and the median of the per-round ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from aiohttp import web
from sqlalchemy import select
from temporalio.testing import ActivityEnvironment

from activities.webhooks import WebhookActivities
from bench.bookings import _api_round, _start_api
from bench.common import bench_database, dev_server, percentile, run_bench
from bench.stack_processes import ROOT
from db import events as event_store
from db.engine import SessionFactory, create_engine, create_session_factory
from db.models import Business, Customer, WebhookDelivery
from domain.events import AppointmentPayload, event_id
from domain.webhooks import RelayWebhooksInput, signed_headers
from keeptime.settings import Settings
from services import webhooks
from tests.support import free_port


@dataclass
class Receiver:
    port: int = field(default_factory=free_port)
    arrived: dict[str, float] = field(default_factory=dict)  # webhook-id -> time.time() of its arrival
    direct: dict[str, float] = field(default_factory=dict)
    wanted: int = 0
    enough: asyncio.Event = field(default_factory=asyncio.Event)

    async def hook(self, request: web.Request) -> web.Response:
        await request.read()
        target = self.direct if request.path.endswith("/direct") else self.arrived
        target.setdefault(request.headers["webhook-id"], time.time())
        if len(self.arrived) >= self.wanted:
            self.enough.set()
        return web.Response(status=204)

    async def until(self, count: int, timeout_s: float = 60) -> None:
        """Wait until ``count`` relayed events have arrived (or the timeout: the report counts them)."""
        self.wanted, self.enough = count, asyncio.Event()
        if len(self.arrived) < count:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.enough.wait(), timeout_s)


@contextlib.asynccontextmanager
async def receiving() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/hook/{name}", receiver.hook)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", receiver.port).start()
    try:
        yield receiver
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def relay(sessions: SessionFactory, settings: Settings) -> AsyncIterator[None]:
    task = asyncio.create_task(
        ActivityEnvironment().run(
            WebhookActivities(sessions, settings).relay_webhooks, RelayWebhooksInput(run_for_s=600)
        )
    )
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _change(
    sessions: SessionFactory,
    http: aiohttp.ClientSession,
    business_id: int,
    n: int,
    direct_url: str,
    secret: str,
    commits: dict[str, float],
) -> None:
    now = datetime.now(UTC)
    payload = AppointmentPayload(
        appointment_id=n,
        customer_id=1,
        status="confirmed",
        starts_at=now,
        ends_at=now,
        version=1,
        service=None,
        resource=None,
    )
    async with sessions() as session, session.begin():
        row = event_store.record(
            session, business_id, "appointment.confirmed", ("appointment", n), now, payload
        )
        await session.flush()
    key = event_id(row.id)
    commits[key] = time.time()
    body = event_store.as_event(row).model_dump_json().encode()
    headers = signed_headers([secret], key, int(time.time()), body)
    async with http.post(direct_url, data=body, headers=headers) as answer:
        await answer.read()


async def latency_round(
    sessions: SessionFactory, settings: Settings, business_id: int, rate: float, seconds: float, round_: int
) -> dict[str, tuple[float, float]]:
    async with receiving() as receiver, aiohttp.ClientSession() as http:
        endpoint, _ = await webhooks.create(
            sessions,
            settings,
            business_id,
            {
                "url": f"http://127.0.0.1:{receiver.port}/hook/relay-{round_}",
                "description": None,
                "event_types": None,
            },
        )
        commits: dict[str, float] = {}
        direct_url = f"http://127.0.0.1:{receiver.port}/hook/direct"
        async with relay(sessions, settings):
            await asyncio.sleep(1)  # the relay holds its lock and polls
            tasks = []
            began = time.perf_counter()
            for i in range(int(rate * seconds)):
                await asyncio.sleep(max(0.0, began + i / rate - time.perf_counter()))
                tasks.append(
                    asyncio.create_task(
                        _change(sessions, http, business_id, 1 + i % 50, direct_url, endpoint.secret, commits)
                    )
                )
            await asyncio.gather(*tasks)
            await receiver.until(len(commits))
        async with sessions() as session:
            fanned = {
                event_id(e): c.timestamp()
                for e, c in (
                    await session.execute(
                        select(WebhookDelivery.event_id, WebhookDelivery.created_at).where(
                            WebhookDelivery.endpoint_id == endpoint.id
                        )
                    )
                ).all()
            }
        await webhooks.remove(sessions, business_id, endpoint.id)
    missing = len(commits) - len(receiver.arrived)
    relay_ms = [1000 * (receiver.arrived[k] - t) for k, t in commits.items() if k in receiver.arrived]
    fan_ms = [1000 * (fanned[k] - t) for k, t in commits.items() if k in fanned]
    send_ms = [
        1000 * (receiver.arrived[k] - fanned[k]) for k in commits if k in fanned and k in receiver.arrived
    ]
    direct_ms = [1000 * (receiver.direct[k] - t) for k, t in commits.items() if k in receiver.direct]
    figures = {
        "commit -> receiver (relay)": _p(relay_ms),
        "  commit -> fanned in": _p(fan_ms),
        "  fanned in -> receiver": _p(send_ms),
        "commit -> receiver (direct POST)": _p(direct_ms),
    }
    print(f"round {round_ + 1}: {len(commits)} changes at {rate:.0f}/s, {missing} not delivered")
    for name, (p50, p99) in figures.items():
        print(f"  {name:34} p50 {p50:7.1f} ms   p99 {p99:7.1f} ms", flush=True)
    return figures


def _p(values: list[float]) -> tuple[float, float]:
    return percentile(values, 0.5), percentile(values, 0.99)


async def booking_rounds(
    url: str, sessions: SessionFactory, settings: Settings, rounds: int, bookings: int
) -> None:
    db_file = Path(tempfile.mkdtemp(prefix="kt-bench-temporal-")) / "temporal.db"
    async with dev_server(db_file) as env, receiving() as receiver, aiohttp.ClientSession() as http:
        api = await _start_api("current", ROOT, url, env.client.service_client.config.target_host)
        try:
            created = await (
                await http.post(
                    f"{api.base}/v1/businesses",
                    json={"name": "Bench", "time_zone": "UTC"},
                    headers={"Authorization": "Bearer dev-admin-key"},
                )
            ).json()
            key, business_id = created["api_key"], created["business"]["id"]
            auth = {"Authorization": f"Bearer {key}"}
            async with sessions() as session:
                customer = Customer(business_id=business_id, name="Bench Customer", email="b@bench.example")
                session.add(customer)
                await session.commit()
            hook = {"url": f"http://127.0.0.1:{receiver.port}/hook/bookings"}
            rates: dict[bool, list[float]] = {False: [], True: []}
            async with relay(sessions, settings):
                for round_ in range(rounds):
                    for subscribed in (False, True) if round_ % 2 == 0 else (True, False):
                        endpoint = None
                        if subscribed:  # created now: it receives this round's bookings only
                            answer = await http.post(
                                f"{api.base}/v1/webhook-endpoints", json=hook, headers=auth
                            )
                            endpoint = (await answer.json())["id"]
                        tag, before = f"r{round_}-{int(subscribed)}", len(receiver.arrived)
                        rate = await _api_round(http, api.base, key, customer.id, bookings, 20, tag)
                        rates[subscribed].append(rate)
                        way = "one endpoint" if subscribed else "no endpoint "
                        line = f"round {round_ + 1}, {way}: {rate:.0f} bookings/s"
                        if endpoint is not None:
                            await receiver.until(before + bookings, timeout_s=60)
                            await http.delete(f"{api.base}/v1/webhook-endpoints/{endpoint}", headers=auth)
                            line += f" ({len(receiver.arrived) - before} of its {bookings} events delivered)"
                        print(line, flush=True)
            ratio = statistics.median(w / wo for w, wo in zip(rates[True], rates[False], strict=True))
            print(
                f"bookings/s, medians of {rounds}: no endpoint {statistics.median(rates[False]):.0f}, one "
                f"endpoint {statistics.median(rates[True]):.0f}; with / without, median per-round ratio "
                f"{ratio:.2f}"
            )
        finally:
            api.process.terminate()
            await api.process.wait()


async def main(rate: float, seconds: float, rounds: int, bookings: int) -> None:
    async with bench_database("webhooks") as url:
        engine = create_engine(url, pool_size=20)
        sessions = create_session_factory(engine)
        settings = Settings(database_url=url, webhooks_allow_private=True)
        async with sessions() as session:
            business = Business(name="Latency", time_zone="UTC", admin_email="owner@bench.example")
            session.add(business)
            await session.commit()
        print(f"-- part 1: latency, {rate:.0f} changes/s for {seconds:.0f} s, {rounds} rounds", flush=True)
        results = [
            await latency_round(sessions, settings, business.id, rate, seconds, r) for r in range(rounds)
        ]
        print(f"medians of {rounds} rounds:")
        for name in results[0]:
            p50 = statistics.median(r[name][0] for r in results)
            p99 = statistics.median(r[name][1] for r in results)
            print(f"  {name:34} p50 {p50:7.1f} ms   p99 {p99:7.1f} ms")
        relay_p50 = statistics.median(
            r["commit -> receiver (relay)"][0] / r["commit -> receiver (direct POST)"][0] for r in results
        )
        print(f"  relay / direct POST, median of the per-round p50 ratios: {relay_p50:.1f}x")
        print(
            f"-- part 2: cost per booking, {bookings} bookings a round, {rounds} rounds each way", flush=True
        )
        await booking_rounds(url, sessions, settings, rounds, bookings)
        await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=20)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--bookings", type=int, default=300)
    args = parser.parse_args()
    run_bench(main(args.rate, args.seconds, args.rounds, args.bookings))
