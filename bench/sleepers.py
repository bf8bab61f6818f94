"""Many sleeping appointments: how fast they start, and what they cost the worker and the dev server.

    .venv/bin/python -m bench.sleepers [--count 100000] [--max-cached 1000] [--concurrency 50]
                                       [--repeat N] [--compare REF]

The stack as `make run` runs it (dev server on a SQLite file with its pragmas, the embedded PostgreSQL or
DATABASE_URL's server, one worker process; e-mail to an SMTP peer). COUNT confirmed appointments a month
ahead are inserted, then their workflows started through ``ensure_workflow`` (what a booking does),
CONCURRENCY at a time. Each workflow sends its booking confirmation, plans its first reminder and sleeps.
Printed, per tenth of the run: the start rate of that tenth, the worker's RSS and the dev server's RSS and
files; at the end, the ratio of the last tenth's start rate to the first thousand's, and the dev server's
disk and memory per sleeping workflow once the worker has caught up. ``--compare REF`` runs the same load
against the worker of git revision REF too (a temporary worktree), alternating run by run, and prints the
medians of the worker's RSS once caught up and their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from bench.baseline import worktree
from bench.common import run_bench
from bench.environment import BenchEnvironment, bench_environment
from bench.recovery import count_log
from bench.stack_processes import ROOT, WorkerProcess
from db.appointments import appointment_snapshot
from db.engine import SessionFactory
from db.models import Appointment, Business, Customer
from domain.appointment_types import AppointmentSnapshot
from domain.statuses import AppointmentStatus
from tests.peers import ProviderPeer, SmtpPeer
from workflows.starts import ensure_workflow

FIRST = 1000  # the start rate of the first thousand is the baseline the last tenth is compared with


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def disk_mb(root: Path) -> float:
    return sum(p.stat().st_size for p in root.glob("temporal.db*")) / 2**20


@dataclass
class Figures:
    start_rate: float  # workflows started per second over the whole run
    start_ratio: float  # the last tenth's start rate / the first thousand's
    worker_rss_mb: float  # once caught up: every workflow confirmed, planned and asleep


async def run(count: int, max_cached: int, concurrency: int, root: Path = ROOT) -> Figures:
    smtp, peer = SmtpPeer(), ProviderPeer()
    async with bench_environment("sleepers", smtp, peer) as env:
        worker = WorkerProcess(
            {
                "DATABASE_URL": env.url,
                "TEMPORAL_ADDRESS": env.temporal.address,
                "SMTP_HOST": "127.0.0.1",
                "SMTP_PORT": str(smtp.port),
                "SMTP_STARTTLS": "false",
                "EMAIL_RATE_PER_S": "1000",
                "WORKER_MAX_CACHED_WORKFLOWS": str(max_cached),
                "LOG_LEVEL": "WARNING",
            },
            env.root / "worker.log",
            root=root,
        )
        worker.start()
        try:
            client = await env.temporal.connect()
            ids, template = await _seed(env.sessions, count)
            server_pid = env.temporal.pid
            await asyncio.sleep(5)  # the worker is up and idle
            idle = rss_mb(worker.pid), rss_mb(server_pid), disk_mb(env.root)
            print(
                f"{count} appointments; worker max_cached_workflows {max_cached}; idle: worker RSS "
                f"{idle[0]:.0f} MB, dev server RSS {idle[1]:.0f} MB, files {idle[2]:.1f} MB",
                flush=True,
            )
            slots = asyncio.Semaphore(concurrency)

            async def start(appointment_id: int) -> None:
                async with slots:
                    await ensure_workflow(
                        client, template.model_copy(update={"appointment_id": appointment_id})
                    )

            tenth = max(FIRST, count // 10)
            rates: list[float] = []
            began = time.perf_counter()
            for chunk_start in range(0, count, FIRST):
                t0 = time.perf_counter()
                await asyncio.gather(*(start(i) for i in ids[chunk_start : chunk_start + FIRST]))
                rates.append(min(FIRST, count - chunk_start) / (time.perf_counter() - t0))
                done = chunk_start + FIRST
                if done % tenth == 0 or done >= count:
                    print(
                        f"  {min(done, count):>7} started: last 1,000 at {rates[-1]:5.0f}/s; worker RSS "
                        f"{rss_mb(worker.pid):4.0f} MB, dev server RSS {rss_mb(server_pid):5.0f} MB, "
                        f"files {disk_mb(env.root):7.1f} MB",
                        flush=True,
                    )
            elapsed = time.perf_counter() - began
            last = rates[-max(1, len(rates) // 10) :]
            last_rate = sum(last) / len(last)
            print(
                f"started {count} in {elapsed:.0f} s ({count / elapsed:.0f}/s); "
                f"first 1,000 at {rates[0]:.0f}/s, last tenth at {last_rate:.0f}/s: "
                f"ratio {last_rate / rates[0]:.2f}"
            )
            await _until_caught_up(env, count)
            end = rss_mb(worker.pid), rss_mb(server_pid), disk_mb(env.root)
            print(
                f"caught up: worker RSS {end[0]:.0f} MB; dev server RSS {end[1]:.0f} MB "
                f"({(end[1] - idle[1]) * 1024 / count:.1f} KB per sleeping workflow), files {end[2]:.0f} MB "
                f"({(end[2] - idle[2]) * 1024 / count:.1f} KB per sleeping workflow)"
            )
            return Figures(count / elapsed, last_rate / rates[0], end[0])
        finally:
            worker.stop()


async def main(options: argparse.Namespace) -> None:
    """``repeat`` runs of the current tree, each after one of the baseline when comparing."""
    results: dict[str, list[Figures]] = {"baseline": [], "current": []}
    with contextlib.ExitStack() as stack:
        baseline = stack.enter_context(worktree(options.compare)) if options.compare else None
        for n in range(options.repeat):
            trees = [("baseline", baseline)] if baseline is not None else []
            for name, root in [*trees, ("current", ROOT)]:
                label = f"baseline {options.compare}" if name == "baseline" else "current tree"
                print(f"\n== {label}, run {n + 1}", flush=True)
                results[name].append(await run(options.count, options.max_cached, options.concurrency, root))
    print("\nworker RSS once caught up, start rate, last tenth / first thousand (medians of the runs)")
    for name, figures in results.items():
        if figures:
            rss = statistics.median(f.worker_rss_mb for f in figures)
            rate = statistics.median(f.start_rate for f in figures)
            ratio = statistics.median(f.start_ratio for f in figures)
            each = ", ".join(f"{f.worker_rss_mb:.0f}" for f in figures)
            print(f"  {name:<9} {rss:5.0f} MB (runs: {each} MB)   {rate:5.0f}/s   ratio {ratio:.2f}")
    if results["baseline"]:
        before = statistics.median(f.worker_rss_mb for f in results["baseline"])
        after = statistics.median(f.worker_rss_mb for f in results["current"])
        print(f"  current / baseline worker RSS: {after / before:.2f}")


async def _seed(sessions: SessionFactory, count: int) -> tuple[list[int], AppointmentSnapshot]:
    starts = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)
    async with sessions() as session:
        business = Business(name="Sleepers Salon", time_zone="UTC")
        session.add(business)
        await session.flush()
        customer = Customer(
            business_id=business.id, name="Sleeper", email="sleeper@bench.test", channel_order=["email"]
        )
        session.add(customer)
        await session.flush()
        ids: list[int] = []
        for chunk in range(0, count, 5000):
            rows = [
                {
                    "business_id": business.id,
                    "customer_id": customer.id,
                    "status": AppointmentStatus.CONFIRMED,
                    "starts_at": starts + timedelta(minutes=n),
                    "ends_at": starts + timedelta(minutes=n + 30),
                    "service": "Cut",
                }
                for n in range(chunk, min(count, chunk + 5000))
            ]
            result = await session.execute(insert(Appointment).returning(Appointment.id), rows)
            ids.extend(result.scalars())
        await session.commit()
        first = await session.get(Appointment, ids[0])
        assert first is not None
        template = await appointment_snapshot(session, first)
    return ids, template


async def _until_caught_up(env: BenchEnvironment, count: int) -> None:
    """Until every booking confirmation is settled: each workflow has then planned its reminder and sleeps."""
    while True:  # the worker process writes the rows; poll them
        if await count_log(env.sessions, "appointment.booked") >= count:
            return
        await asyncio.sleep(5)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--max-cached", type=int, default=1000, help="WORKER_MAX_CACHED_WORKFLOWS")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=1, help="runs of each tree")
    parser.add_argument("--compare", metavar="REF", help="also run the worker of git revision REF")
    run_bench(main(parser.parse_args()))
