"""Bookings per second through the HTTP API, beside raw ``start_workflow`` on the same server, same run.

    .venv/bin/python -m bench.bookings [--bookings 500] [--rounds 3] [--concurrency 20] [--compare REF]

The dev server runs as `make run` runs it (SQLite file, WAL, synchronous=normal), the API as its own
process (``python -m api``). Each API booking is a real HTTP POST /v1/appointments: validation, auth, the
PostgreSQL transaction with its Idempotency-Key, and the workflow start. The raw side makes the same start
the API makes (``workflows.starts.ensure_workflow``: the workflow id, its search attributes and summary)
with a prepared snapshot, so the ratio is what the API adds to Temporal's start. No worker runs, so both
measure the booking path alone.
Rounds alternate API and raw; medians and their ratio are printed. ``--compare REF`` also runs the API of
git revision REF (a temporary worktree; same database schema assumed) on the same server and database, in
the same rounds (the two APIs' order swapped every round), and prints current / baseline: bookings per
second and the API process's CPU per booking, each the median of the per-round ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import psutil
from temporalio.client import Client

from bench.baseline import worktree
from bench.common import bench_database, dev_server, run_bench
from bench.cpu import CpuWindow
from bench.stack_processes import ROOT
from db.appointments import appointment_snapshot
from db.engine import create_engine, create_session_factory
from db.models import Appointment, Customer
from domain.appointment_types import AppointmentSnapshot
from domain.statuses import AppointmentStatus
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


@dataclass
class ApiUnderTest:
    """One API process (this tree's, or a baseline revision's worktree) and what its rounds measured."""

    name: str
    process: asyncio.subprocess.Process
    base: str
    rates: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)  # the API process's CPU per booking, per round


async def _start_api(name: str, cwd: Path, url: str, temporal_address: str) -> ApiUnderTest:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "api",
        cwd=cwd,
        env={
            **os.environ,
            "DATABASE_URL": url,
            "TEMPORAL_ADDRESS": temporal_address,
            "API_PORT": str(port),
            "LOG_LEVEL": "WARNING",
        },
    )
    base = f"http://127.0.0.1:{port}"
    await _wait_for(f"{base}/healthz")
    return ApiUnderTest(name, process, base)


async def main(bookings: int, rounds: int, concurrency: int, compare: str | None) -> None:
    db_file = Path(tempfile.mkdtemp(prefix="kt-bench-temporal-")) / "temporal.db"
    with contextlib.ExitStack() as stack:
        baseline_tree = stack.enter_context(worktree(compare)) if compare else None
        async with bench_database("bookings") as url, dev_server(db_file) as env:
            temporal_address = env.client.service_client.config.target_host
            apis = [await _start_api("current", ROOT, url, temporal_address)]
            if baseline_tree is not None:
                apis.append(await _start_api(f"baseline {compare}", baseline_tree, url, temporal_address))
            try:
                raw_rates = await _rounds(env.client, url, db_file, apis, bookings, rounds, concurrency)
            finally:
                for api in apis:
                    api.process.terminate()
                    await api.process.wait()
    print(f"medians over {rounds} rounds of {bookings} (concurrency {concurrency}):")
    for api in apis:
        # each pair from one round
        ratio = statistics.median(a / r for a, r in zip(api.rates, raw_rates, strict=True))
        print(
            f"  {api.name}: API {statistics.median(api.rates):.0f} bookings/s, raw start_workflow "
            f"{statistics.median(raw_rates):.0f}/s, median per-round ratio {ratio:.2f}; the API's CPU per "
            f"booking {statistics.median(api.cpu_ms):.1f} ms"
        )
    if len(apis) == 2:
        current, baseline = apis
        speed = statistics.median(c / b for c, b in zip(current.rates, baseline.rates, strict=True))
        cpu = statistics.median(c / b for c, b in zip(current.cpu_ms, baseline.cpu_ms, strict=True))
        print(
            f"  current / baseline, median of the per-round ratios: bookings/s {speed:.2f}x, "
            f"the API's CPU per booking {cpu:.2f}x"
        )


async def _rounds(
    client: Client,
    url: str,
    db_file: Path,
    apis: list[ApiUnderTest],
    bookings: int,
    rounds: int,
    concurrency: int,
) -> list[float]:
    """Alternate raw starts and each API's bookings, round by round (the APIs' order swapped every round);
    returns the raw rates."""
    engine = create_engine(url, pool_size=5)
    sessions = create_session_factory(engine)
    raw_rates: list[float] = []
    async with aiohttp.ClientSession() as http:
        created = await (
            await http.post(
                f"{apis[0].base}/v1/businesses",
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
        server = {"Temporal dev server": _pids_with(str(db_file))}
        for round_ in range(rounds):
            for api in apis if round_ % 2 == 0 else apis[::-1]:
                parts = {**server, "API": [api.process.pid]}
                before = await _database_work(http, api.base)
                cpu = CpuWindow(parts, own="bench client")
                cpu.start()
                tag = f"r{round_}-{apis.index(api)}"
                rate = await _api_round(http, api.base, key, customer.id, bookings, concurrency, tag)
                api.rates.append(rate)
                cpu.stop()
                api.cpu_ms.append(1000 * cpu.seconds_of("API") / bookings)
                after = await _database_work(http, api.base)
                per_booking = ", ".join(
                    f"{(after[kind] - before.get(kind, 0)) / bookings:.1f} {kind}s"
                    for kind in ("statement", "transaction", "checkout")
                )
                print(
                    f"round {round_ + 1}, {api.name}: API {api.rates[-1]:.0f} bookings/s; per booking: "
                    f"{per_booking}",
                    flush=True,
                )
                cpu.report(bookings, "booking")
            raw_cpu = CpuWindow(server, own="bench client")
            raw_cpu.start()
            raw_rates.append(await _raw_round(client, snapshot, bookings, concurrency, round_))
            raw_cpu.stop()
            ratios = ", ".join(f"{api.name} {api.rates[-1] / raw_rates[-1]:.2f}" for api in apis)
            print(f"round {round_ + 1}, raw start_workflow {raw_rates[-1]:.0f}/s; ratio {ratios}", flush=True)
            raw_cpu.report(bookings, "start")
    await engine.dispose()
    return raw_rates


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
    parser.add_argument("--compare", metavar="REF", help="also book through the API of git revision REF")
    args = parser.parse_args()
    run_bench(main(args.bookings, args.rounds, args.concurrency, args.compare))
    os._exit(0)
