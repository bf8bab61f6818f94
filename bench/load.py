"""On time under load (issue 15): a burst of reminders due at one instant, a steady rate (or a sweep of
rates), and the 1/2/3-worker curve; optionally against a baseline checkout in the same run.

    .venv/bin/python -m bench.load burst [--count 1000] [--workers 1] [--repeat 3] [--compare REF]
    .venv/bin/python -m bench.load steady [--rates 10,20,40] [--duration 60] [--workers 1] [--paced-bookings]
                                          [--compare REF]
    .venv/bin/python -m bench.load curve [--count 1000] [--max-workers 3]

Uncapped peers (SMS via a Telnyx-shaped peer, push, e-mail over SMTP; rate limits set far above the load),
the Temporal dev server on a file and the embedded PostgreSQL (or DATABASE_URL's server), all on this box;
a fresh stack for every run. Each run prints delivered / missing / raw duplicates, due -> accepted by the
provider p50 / p99 / max, and the phases from each reminder's history (due -> timer set for -> timer fired ->
send scheduled -> started -> completed, and how long the workflow task that set the timer ran: a timer
fires at that task's completion plus the delay computed from its start) and the CPU each part of the stack
used meanwhile, in cores and in milliseconds per reminder (``bench/cpu.py``), and in the 5 s before.
Bookings are started in the warm-up as fast as the server takes them (their timers are set in that burst);
``steady --paced-bookings`` books at the reminder rate instead. ``--compare REF`` runs the same load
against the worker of git revision REF (a temporary worktree; same database schema assumed), alternating
baseline and current run by run, and prints the medians of both and their ratio. ``steady`` prints the
sustainable rate: the highest rate whose p99 lateness stayed under 1 s with nothing missing.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
from dataclasses import dataclass
from pathlib import Path

from bench.baseline import worktree
from bench.common import run_bench
from bench.phases import percentile
from bench.recovery import Figures, report, run
from bench.stack_processes import ROOT

SUSTAINABLE_P99_S = 1.0


@dataclass
class Shape:
    count: int
    spread: float  # seconds over which the reminders fall due (0: one instant)
    booking_rate: float | None = None  # workflows started this many a second (None: as fast as they go)

    @property
    def warmup_s(self) -> float:
        # every booking is started and its confirmation sent before the first reminder falls due
        paced = 0.0 if self.booking_rate is None else self.count / self.booking_rate + 60.0
        return max(60.0, 30.0 + self.count / 8, paced)


def summary(figures: Figures) -> tuple[float, float, float]:
    """(p50, p99, max) lateness over every reminder; a missing one counts as infinitely late."""
    late = sorted(figures.late["hit"] + figures.late["untouched"]) + [float("inf")] * figures.missing
    if not late:
        return float("inf"), float("inf"), float("inf")
    p99 = percentile(late, 0.99)
    return statistics.median(late), p99, late[-1]


async def measure(shape: Shape, workers: int, sticky_s: float, root: Path, label: str) -> tuple[float, ...]:
    print(f"\n== {label}: {shape.count} reminders over {shape.spread:.0f} s, {workers} worker(s)", flush=True)
    figures = await run(
        shape.count,
        shape.spread,
        workers,
        sticky_s,
        kill=False,
        worker_root=root,
        warmup_s=shape.warmup_s,
        booking_rate=shape.booking_rate,
    )
    report(figures)
    return summary(figures)


def fmt(values: tuple[float, ...]) -> str:
    return " / ".join("missing" if v == float("inf") else f"{v:.2f} s" for v in values)


async def compare(shape: Shape, options: argparse.Namespace) -> dict[str, list[tuple[float, ...]]]:
    """``repeat`` runs of the current tree, interleaved with as many of the baseline when comparing."""
    results: dict[str, list[tuple[float, ...]]] = {"current": [], "baseline": []}
    with contextlib.ExitStack() as stack:
        baseline = stack.enter_context(worktree(options.compare)) if options.compare else None
        for n in range(options.repeat):
            if baseline is not None:
                label = f"baseline {options.compare}, run {n + 1}"
                results["baseline"].append(
                    await measure(shape, options.workers, options.sticky, baseline, label)
                )
            label = f"current tree, run {n + 1}"
            results["current"].append(await measure(shape, options.workers, options.sticky, ROOT, label))
    return results


def medians(runs: list[tuple[float, ...]]) -> tuple[float, ...]:
    return tuple(statistics.median(column) for column in zip(*runs, strict=True))


def print_comparison(results: dict[str, list[tuple[float, ...]]]) -> None:
    print("\nlateness p50 / p99 / max (median of the runs)")
    for name, runs in results.items():
        if runs:
            print(f"  {name:<9} {fmt(medians(runs))}   (runs: {'; '.join(fmt(r) for r in runs)})")
    if results["baseline"] and results["current"]:
        before, after = medians(results["baseline"]), medians(results["current"])
        ratios = [
            f"{b / a:.1f}x" if a not in (0, float("inf")) else "-" for b, a in zip(before, after, strict=True)
        ]
        print(f"  baseline / current: {' / '.join(ratios)}")


async def main(options: argparse.Namespace) -> None:
    if options.shape == "burst":
        print_comparison(await compare(Shape(options.count, 0.0), options))
    elif options.shape == "steady":
        sustainable = 0.0
        for rate in options.rates:
            print(f"\n###### {rate:g} reminders/s for {options.duration:g} s")
            booking_rate = rate if options.paced_bookings else None
            shape = Shape(round(rate * options.duration), options.duration, booking_rate)
            results = await compare(shape, options)
            print_comparison(results)
            _, p99, _ = medians(results["current"])
            if p99 < SUSTAINABLE_P99_S:
                sustainable = max(sustainable, rate)
        print(f"\nsustainable rate (p99 under {SUSTAINABLE_P99_S:g} s, nothing missing): {sustainable:g}/s")
    else:
        curve = []
        for workers in range(1, options.max_workers + 1):
            label = f"{workers} worker process(es)"
            curve.append(
                (workers, await measure(Shape(options.count, 0.0), workers, options.sticky, ROOT, label))
            )
        print(f"\n{options.count} reminders due at one instant, by worker processes: p50 / p99 / all sent")
        for workers, figures in curve:
            print(f"  {workers}: {fmt(figures)}")


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    shape = parser.add_subparsers(dest="shape", required=True)
    burst = shape.add_parser("burst", help="COUNT reminders due at one instant")
    burst.add_argument("--count", type=int, default=1000)
    steady = shape.add_parser("steady", help="RATE reminders a second for DURATION seconds, for each rate")
    steady.add_argument("--rates", type=lambda v: [float(r) for r in v.split(",")], default=[20.0])
    steady.add_argument("--duration", type=float, default=60.0)
    steady.add_argument(
        "--paced-bookings",
        action="store_true",
        help="book at the reminder rate too (default: all bookings at once, in the warm-up)",
    )
    curve = shape.add_parser("curve", help="a burst of COUNT with 1..MAX_WORKERS worker processes")
    curve.add_argument("--count", type=int, default=1000)
    curve.add_argument("--max-workers", type=int, default=3)
    for sub in (burst, steady, curve):
        sub.add_argument("--sticky", type=float, default=3.0, help="WORKER_STICKY_TIMEOUT_S")
    for sub in (burst, steady):
        sub.add_argument("--workers", type=int, default=1)
        sub.add_argument("--repeat", type=int, default=1, help="runs of each (medians are printed)")
        sub.add_argument("--compare", metavar="REF", help="also run the worker of git revision REF")
    return parser.parse_args()


if __name__ == "__main__":
    run_bench(main(parse()))
