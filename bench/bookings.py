"""Bookings per second through the HTTP API, beside raw ``start_workflow`` on the same server, same run.

    .venv/bin/python -m bench.bookings [--bookings 500] [--rounds 3] [--concurrency 20]

The dev server runs as `make run` runs it (SQLite file, WAL, synchronous=normal), the API as its own
process (``python -m api``). Each API booking is a real HTTP POST /v1/appointments: validation, auth, the
PostgreSQL transaction with its Idempotency-Key, and the workflow start. The raw side makes the same start
the API makes (``workflows.starts.ensure_workflow``: the workflow id, its search attributes and summary)
with a prepared snapshot, so the ratio is what the API adds to Temporal's start. No worker runs, so both
measure the booking path alone.
Rounds alternate API and raw; medians and their ratio are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import psutil
from temporalio.client import Client

from bench.common import bench_database, dev_server, run_bench
from bench.cpu import CpuWindow
from db.appointments import appointment_snapshot
from db.engine import create_engine, create_session_factory
from db.models import Appointment, Customer
from domain.appointment_types import AppointmentSnapshot
from domain.statuses import AppointmentStatus
from keeptime.settings import Settings
from tests.support import free_port
from workflows.starts import ensure_workflow


async def _api_round(
    http: aiohttp.ClientSession, url: str, key: str, customer_id: int, n: int, conc: int, tag: str
) -> float:
    start_at = datetime.now(UTC) + timedelta(days=3)
    slots = asyncio.Semaphore(conc)

    async def one(i: int) -> None:
        body = {
            "customer_id": customer_id,
            "starts_at": (start_at + timedelta(minutes=i)).isoformat(),
            "ends_at": (start_at + timedelta(minutes=i + 30)).isoformat(),
        }
        headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": f"{tag}-{i}"}
        async with slots, http.post(f"{url}/v1/appointments", json=body, headers=headers) as response:
            assert response.status == 201, await response.text()

    began = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    return n / (time.perf_counter() - began)


async def main(bookings: int, rounds: int, concurrency: int) -> None:
    db_file = Path(tempfile.mkdtemp(prefix="kt-bench-temporal-")) / "temporal.db"
    async with bench_database("bookings") as url, dev_server(db_file) as env:
        port = free_port()
        settings = Settings(
            database_url=url, temporal_address=env.client.service_client.config.target_host, api_port=port
        )
        api = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "api",
            env={
                **os.environ,
                "DATABASE_URL": url,
                "TEMPORAL_ADDRESS": settings.temporal_address,
                "API_PORT": str(port),
                "LOG_LEVEL": "WARNING",
            },
        )
        await _wait_for(f"http://127.0.0.1:{port}/healthz")
        engine = create_engine(url, pool_size=5)
        sessions = create_session_factory(engine)
        async with aiohttp.ClientSession() as http:
            created = await (
                await http.post(
                    f"http://127.0.0.1:{port}/v1/businesses",
                    json={"name": "Bench", "time_zone": "UTC"},
                    headers={"Authorization": "Bearer dev-admin-key"},
                )
            ).json()
            key, business_id = created["api_key"], created["business"]["id"]
            async with sessions() as session:
                customer = Customer(business_id=business_id, name="Bench Customer", email="b@bench.example")
                session.add(customer)
                await session.commit()
                template = Appointment(
                    business_id=business_id,
                    customer_id=customer.id,
                    status=AppointmentStatus.CONFIRMED,
                    starts_at=datetime.now(UTC) + timedelta(days=3),
                    ends_at=datetime.now(UTC) + timedelta(days=3, hours=1),
                )
                session.add(template)
                await session.commit()
                snapshot = await appointment_snapshot(session, template)
            api_rates, raw_rates = [], []
            base = f"http://127.0.0.1:{port}"
            parts = {"Temporal dev server": _pids_with(str(db_file)), "API": [api.pid]}
            for round_ in range(rounds):
                before = await _database_work(http, base)
                api_cpu = CpuWindow(parts, own="bench client")
                api_cpu.start()
                api_rates.append(
                    await _api_round(
                        http,
                        f"http://127.0.0.1:{port}",
                        key,
                        customer.id,
                        bookings,
                        concurrency,
                        f"r{round_}",
                    )
                )
                api_cpu.stop()
                after = await _database_work(http, base)
                raw_cpu = CpuWindow(parts, own="bench client")
                raw_cpu.start()
                raw_rates.append(await _raw_round(env.client, snapshot, bookings, concurrency, round_))
                raw_cpu.stop()
                per_booking = ", ".join(
                    f"{(after[kind] - before.get(kind, 0)) / bookings:.1f} {kind}s"
                    for kind in ("statement", "transaction", "checkout")
                )
                print(
                    f"round {round_ + 1}: API {api_rates[-1]:.0f} bookings/s, "
                    f"raw start_workflow {raw_rates[-1]:.0f}/s, ratio {api_rates[-1] / raw_rates[-1]:.2f}; "
                    f"per booking: {per_booking}",
                    flush=True,
                )
                print("  API round:")
                api_cpu.report(bookings, "booking")
                print("  raw round:")
                raw_cpu.report(bookings, "start")
        api.terminate()
        await api.wait()
        await engine.dispose()
    api_median, raw_median = statistics.median(api_rates), statistics.median(raw_rates)
    ratio = statistics.median(
        a / r for a, r in zip(api_rates, raw_rates, strict=True)
    )  # pairs from one round
    print(
        f"median over {rounds} rounds of {bookings} (concurrency {concurrency}): "
        f"API {api_median:.0f} bookings/s, raw start_workflow {raw_median:.0f}/s, "
        f"median per-round ratio {ratio:.2f}"
    )


async def _database_work(http: aiohttp.ClientSession, base: str) -> dict[str, float]:
    """The API process's ``keeptime_db_operations_total`` by kind (statements, transactions, checkouts)."""
    async with http.get(f"{base}/metrics") as response:
        text = await response.text()
    work: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("keeptime_db_operations_total{"):
            labels, value = line.rsplit(" ", 1)
            work[labels.split('kind="', 1)[1].split('"', 1)[0]] = float(value)
    return work


def _pids_with(argument: str) -> list[int]:
    """The processes whose command line holds ``argument`` (the dev server: its database file)."""
    return [
        process.pid
        for process in psutil.process_iter(["cmdline"])
        if any(argument in part for part in process.info["cmdline"] or [])
    ]


async def _wait_for(url: str) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(100):
            try:
                async with http.get(url) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


async def _raw_round(client: Client, snapshot: AppointmentSnapshot, n: int, conc: int, round_: int) -> float:
    slots = asyncio.Semaphore(conc)
    first_id = 1_000_000_000 + round_ * n  # far from the ids the API books: no workflow id is reused

    async def one(i: int) -> None:
        async with slots:
            await ensure_workflow(client, snapshot.model_copy(update={"appointment_id": first_id + i}))

    began = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    return n / (time.perf_counter() - began)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bookings", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=20)
    args = parser.parse_args()
    run_bench(main(args.bookings, args.rounds, args.concurrency))
    os._exit(0)
