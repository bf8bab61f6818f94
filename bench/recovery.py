"""Recovery: three worker processes, one SIGKILLed while reminders fire; how late do its messages go out?

    .venv/bin/python -m bench.recovery [--appointments 300] [--spread 60] [--workers 3] [--sticky-timeout 3]

N confirmed appointments, one customer each, round-robin on SMS (Telnyx peer), push and e-mail, one
reminder each, due over ``--spread`` seconds. Halfway through, worker 1 is SIGKILLed and not restarted:
the others must take its work. No other fault. Prints, for the messages the kill hit (their history shows
a workflow or activity task that timed out, or a send retried after the kill) and for the rest: how many,
due -> accepted by the provider p50 / p99 / max, and the phases of the hit ones from their histories
(due -> timer fired -> send scheduled -> send started -> completed), plus delivered, missing and raw
duplicates. The issue's goal: p99 under 10 s for the hit messages.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from activities.providers import telnyx_key
from bench.chaos import LEAD_S, WARMUP_S, delivery_keys, message_key, seed_appointments, settings_env
from bench.common import run_bench
from bench.cpu import CpuWindow
from bench.environment import BenchEnvironment, bench_environment
from bench.phases import Phases, percentile, quantiles, reminder_phases
from bench.stack_processes import ROOT, WorkerProcess
from db.engine import SessionFactory
from db.models import Appointment, NotificationLog
from domain.statuses import NotificationStatus
from tests.peers import ProviderPeer, SmtpPeer

SETTLE_S = 180  # after the last reminder falls due, how long the run waits for them all to be sent
IDLE_WINDOW_S = 5.0  # the stack's CPU is also measured over this long before the first reminder falls due
PHASE_ORDER = ("set_for", "fired", "scheduled", "started", "completed")  # offsets from due, in order
# set_task and the two plan figures are durations, not offsets: the run time of the workflow task that
# started the firing timer, and of it the time before its plan was scheduled and the plan's own time
PHASE_LABELS = {
    "set_for": "timer set for",
    "set_task": "(the task that set it ran)",
    "plan_wait": "(of it, before its plan)",
    "plan_ran": "(its plan, scheduled->done)",
}


@dataclass
class Figures:
    late: dict[str, list[float]] = field(default_factory=lambda: {"hit": [], "untouched": []})
    phases: list[Phases] = field(default_factory=list)
    missing: int = 0
    duplicates: int = 0
    delivered: int = 0
    resolutions: Counter[str] = field(default_factory=Counter)  # ambiguous attempts, by how they were settled
    send_s: dict[str, list[float]] = field(default_factory=dict)  # channel -> send started -> completed
    unsettled_at_due: int = 0  # booking confirmations still unsent when the first reminder fell due
    cpu: CpuWindow | None = None  # from the first due instant until every reminder was settled
    idle_cpu: CpuWindow | None = None  # the IDLE_WINDOW_S before the first due instant


async def run(
    appointments: int,
    spread: float,
    workers: int,
    sticky_timeout_s: float,
    *,
    kill: bool = True,
    worker_root: Path = ROOT,
    warmup_s: float = WARMUP_S,
    booking_rate: float | None = None,
) -> Figures:
    """Book, let the reminders fall due over ``spread`` seconds (0: all at one instant), SIGKILL worker 1
    halfway when ``kill``, and count what the peers received (bench.load runs it without the kill, and
    with ``worker_root`` another checkout's worker: the baseline it compares with)."""
    smtp, peer = SmtpPeer(), ProviderPeer()
    async with bench_environment("recovery", smtp, peer) as env:
        environment = settings_env(env.url, env.temporal, smtp, peer, "telnyx", "http://127.0.0.1:9")
        environment["WORKER_STICKY_TIMEOUT_S"] = str(sticky_timeout_s)
        processes = [
            WorkerProcess(environment, env.root / f"worker-{n + 1}.log", root=worker_root)
            for n in range(workers)
        ]
        for process in processes:
            process.start()
        try:
            return await _measure(env, processes, appointments, spread, workers, kill, warmup_s, booking_rate)
        finally:
            for process in processes:
                process.stop()


async def _measure(
    env: BenchEnvironment,
    processes: list[WorkerProcess],
    appointments: int,
    spread: float,
    workers: int,
    kill: bool,
    warmup_s: float,
    booking_rate: float | None,
) -> Figures:
    sessions, temporal = env.sessions, env.temporal
    figures = Figures()
    client = await temporal.connect()
    plans = await seed_appointments(sessions, client, appointments, spread, warmup_s, booking_rate)
    first_due = min(p.starts_at for p in plans) - timedelta(seconds=LEAD_S)
    kill_at = first_due + timedelta(seconds=spread / 2)
    killed = f"; worker 1 is killed at {kill_at:%H:%M:%S}" if kill else ""
    print(
        f"{appointments} reminders due from {first_due:%H:%M:%S} over {spread:.0f} s on {workers} "
        f"worker process(es){killed}",
        flush=True,
    )
    parts = {
        "Temporal dev server": [temporal.pid],
        "worker processes": [process.pid for process in processes],
    }
    idle_from = first_due - timedelta(seconds=IDLE_WINDOW_S + 0.5)
    if (idle_from - datetime.now(UTC)).total_seconds() > 0:
        await asyncio.sleep((idle_from - datetime.now(UTC)).total_seconds())
        figures.idle_cpu = CpuWindow(parts)
        figures.idle_cpu.start()
        await asyncio.sleep(IDLE_WINDOW_S)
        figures.idle_cpu.stop()
    await asyncio.sleep(max(0.0, (first_due - datetime.now(UTC)).total_seconds()))
    figures.cpu = CpuWindow(parts)
    figures.cpu.start()
    # how much of the warm-up (each booking's confirmation) was still not done when the reminders fell due
    figures.unsettled_at_due = appointments - await count_log(
        sessions, "appointment.booked", (NotificationStatus.SENT,)
    )
    await asyncio.sleep(max(0.0, (kill_at - datetime.now(UTC)).total_seconds()))
    if kill:
        processes[0].kill()
    await _until_sent(sessions, appointments, first_due + timedelta(seconds=spread + SETTLE_S))
    figures.cpu.stop()
    await asyncio.sleep(2)  # a little longer: the peers' arrivals are what counts

    async with sessions() as session:
        rows = {a.id: a for a in (await session.execute(select(Appointment))).scalars()}
        logs = list((await session.execute(select(NotificationLog))).scalars())
    business_id = next(iter(rows.values())).business_id
    expected = {message_key(p, business_id, p.starts_at, 1): p for p in plans}
    hashes = {telnyx_key(key): key for key in expected}
    by_log = {str(log.id): log.idempotency_key for log in logs}
    figures.resolutions = Counter(
        f"{log.channel.value if log.channel else '-'} {log.event}: {log.resolution}"
        for log in logs
        if log.resolution
    )
    arrivals: dict[str, list[datetime]] = {}
    for key, at in delivery_keys(env.smtp, env.peer, hashes, by_log):
        arrivals.setdefault(key, []).append(at)
    for key, plan in expected.items():
        seen = arrivals.get(key, [])
        if not seen:
            figures.missing += 1
            continue
        figures.delivered += 1
        figures.duplicates += len(seen) - 1
        due = plan.starts_at - timedelta(seconds=LEAD_S)
        phases = await reminder_phases(client, plan.appointment_id, due)
        late = (min(seen) - due).total_seconds()
        figures.late["hit" if phases.hit else "untouched"].append(late)
        figures.phases.append(phases)
        if phases.started is not None and phases.completed is not None:
            figures.send_s.setdefault(plan.channel, []).append(phases.completed - phases.started)
    return figures


SETTLED = (NotificationStatus.SENT, NotificationStatus.DELIVERED, NotificationStatus.SKIPPED)


async def count_log(
    sessions: SessionFactory, event: str, statuses: tuple[NotificationStatus, ...] = SETTLED
) -> int:
    """Notification-log rows whose event matches ``event`` (a LIKE pattern) in one of ``statuses``."""
    async with sessions() as session:
        found = await session.scalar(
            select(func.count())
            .select_from(NotificationLog)
            .where(NotificationLog.event.like(event), NotificationLog.status.in_(statuses))
        )
    return int(found or 0)


async def _until_sent(sessions: SessionFactory, appointments: int, deadline: datetime) -> None:
    """Wait until every reminder is settled (sent, or skipped as too late: each appointment starts a minute
    after its reminder), then a little longer (the peers' arrivals are what counts), or until ``deadline``;
    what did not arrive is reported missing."""
    while datetime.now(UTC) < deadline:
        if await count_log(sessions, "appointment.reminder%") >= appointments:
            return
        await asyncio.sleep(1)


def report(figures: Figures) -> None:
    if figures.unsettled_at_due:
        print(f"  warning: {figures.unsettled_at_due} booking messages were still unsent at the due instant")
    print(f"delivered {figures.delivered}, missing {figures.missing}, raw duplicates {figures.duplicates}")
    for resolution, count in sorted(figures.resolutions.items()):
        print(f"  ambiguous attempt x{count}: {resolution}")
    everything = figures.late["hit"] + figures.late["untouched"]
    print(f"  all        {len(everything):>4} messages, due -> sent {quantiles(everything)}")
    # "hit": a workflow or activity task timed out on the way (a dead worker held it; under load, a task
    # that waited longer than the sticky timeout) or the send was retried
    for group in ("hit", "untouched"):
        values = figures.late[group]
        print(f"  {group:<10} {len(values):>4} messages, due -> sent {quantiles(values)}")
    for group, hit in (("the hit messages", True), ("the others", False)):
        chosen = [p for p in figures.phases if p.hit == hit]
        if not chosen:
            continue
        print(f"  phases of {group} (seconds after due, median / p95 / max):")
        for name in (*PHASE_ORDER, "set_task", "plan_wait", "plan_ran"):
            values = sorted(v for p in chosen if (v := getattr(p, name)) is not None)
            if values:
                p95 = percentile(values, 0.95)
                label = PHASE_LABELS.get(name, name)
                print(f"    {label:<28} {statistics.median(values):6.2f} / {p95:6.2f} / {values[-1]:6.2f}")
    early = sum(p.early_fires for p in figures.phases)
    print(f"  timers that fired before due by the server's clock (the workflow slept the rest): {early}")
    for channel, values in sorted(figures.send_s.items()):
        ordered = sorted(values)
        print(
            f"  the send activity on {channel}: p50 {statistics.median(ordered):.2f} s / "
            f"p95 {percentile(ordered, 0.95):.2f} s"
        )
    if figures.idle_cpu is not None:
        figures.idle_cpu.report_idle(f"in the {IDLE_WINDOW_S:.0f} s before the first due instant")
    if figures.cpu is not None:
        figures.cpu.report(figures.delivered)
    counts = Counter(round(v) for v in figures.late["hit"])
    print(f"  hit lateness histogram (s: count): {dict(sorted(counts.items()))}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--appointments", type=int, default=300)
    parser.add_argument("--spread", type=float, default=60.0, help="seconds over which reminders fall due")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument(
        "--sticky-timeout", type=float, default=3.0, help="WORKER_STICKY_TIMEOUT_S (the SDK's default is 10)"
    )
    options = parser.parse_args()
    report(run_bench(run(options.appointments, options.spread, options.workers, options.sticky_timeout)))
