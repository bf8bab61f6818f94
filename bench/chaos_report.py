"""What a chaos run delivered, counted the same way for Keeptime and for the Celery predecessor."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bench.common import percentile
from tests.peers import Chaos

CHANNELS = ("sms", "push", "email")


@dataclass
class Summary:
    system: str
    due: int = 0
    missing: int = 0
    duplicates: Counter[str] = field(default_factory=Counter)
    recorded: Counter[str] = field(default_factory=Counter)  # duplicates a recorded prefer_duplicate chose
    after_cancel: int = 0
    old_slot: int = 0
    ambiguous: Counter[str] = field(default_factory=Counter)
    lateness: list[float] = field(default_factory=list)
    clean_lateness: list[float] = field(default_factory=list)
    rows_read: int | None = None  # the predecessor's scans: rows read by every tick together
    faults: list[str] = field(default_factory=list)

    @property
    def delivered(self) -> int:
        return self.due - self.missing


@dataclass
class Expectations:
    due: dict[str, datetime]  # message -> due instant (every non-cancelled appointment's final slot)
    channel: dict[str, str]  # message -> channel
    forbidden_after: dict[str, tuple[str, datetime]]  # message -> ("after cancel" | "old slot", instant)


def summarize(
    system: str,
    expected: Expectations,
    deliveries: list[tuple[str, datetime]],
    *,
    clean: set[str],
    chose_duplicate: set[str] | None = None,
) -> Summary:
    """``deliveries``: (message, when) of every raw delivery the peers saw; ``clean``: messages no fault
    touched (one attempt, not due near a fault)."""
    by_key: dict[str, list[datetime]] = defaultdict(list)
    for key, at in deliveries:
        by_key[key].append(at)
    summary = Summary(system=system, due=len(expected.due))
    summary.missing = sum(1 for key in expected.due if not by_key.get(key))
    for key, times in by_key.items():
        if len(times) > 1 and key in expected.channel:
            channel = expected.channel[key]
            summary.duplicates[channel] += len(times) - 1
            if chose_duplicate is not None and key in chose_duplicate:
                summary.recorded[channel] += len(times) - 1
    for key, (why, moment) in expected.forbidden_after.items():
        late = sum(1 for at in by_key.get(key, []) if at > moment)
        if why == "after cancel":
            summary.after_cancel += late
        else:
            summary.old_slot += late
    for key, at in expected.due.items():
        if by_key.get(key):
            seconds = (min(by_key[key]) - at).total_seconds()
            summary.lateness.append(seconds)
            if key in clean:
                summary.clean_lateness.append(seconds)
    return summary


def wide_chaos() -> Chaos:
    """The fault mix both sides of the comparison run (issue 32, defect 8): 503 5%, 429 3%, dropped before
    accepting 2%; after accepting, the answer lost 3%, a gateway's 500/502/504 2%, the answer 12 s late
    (past the 10 s provider timeout) 2%; Twilio's receipt 20 s late 5%, never 3%."""
    return Chaos(
        fail_before=0.05,
        throttle=0.03,
        lose_response=0.03,
        drop_before=0.02,
        gateway_after=0.02,
        slow_after=0.02,
        slow_s=12.0,
        receipt_late=0.05,
        receipt_late_s=20.0,
        receipt_lost=0.03,
    )


def near_fault(at: datetime, faults: list[datetime]) -> bool:
    """Due from 1 s before a fault to 45 s after it (a killed worker's activities time out after 30 s):
    touched by the fault even with a single attempt."""
    return any(timedelta(seconds=-1) <= at - moment <= timedelta(seconds=45) for moment in faults)


def _late(values: list[float]) -> str:
    if not values:
        return "-"
    return (
        f"{percentile(values, 0.5):.1f} / {percentile(values, 0.95):.1f} / "
        f"{percentile(values, 0.99):.1f} / {max(values):.1f}"
    )


def _duplicates(summary: Summary, channel: str) -> str:
    count = summary.duplicates[channel]
    if count and summary.ambiguous:  # Keeptime: how many a recorded prefer_duplicate resolution chose
        return f"{count} ({summary.recorded[channel]} chosen by policy, recorded)"
    return str(count)


def print_summaries(summaries: list[Summary]) -> None:
    """One column per system."""
    rows: list[tuple[str, list[str]]] = [
        ("due", [str(s.due) for s in summaries]),
        ("delivered", [str(s.delivered) for s in summaries]),
        ("missing", [str(s.missing) for s in summaries]),
        *[
            (
                f"raw duplicates {channel}",
                [_duplicates(s, channel) for s in summaries],
            )
            for channel in CHANNELS
        ],
        ("sent after a cancel", [str(s.after_cancel) for s in summaries]),
        ("sent for an old slot after a reschedule", [str(s.old_slot) for s in summaries]),
        ("lateness p50/p95/p99/max (s), all", [_late(s.lateness) for s in summaries]),
        (
            "lateness p50/p95/p99/max (s), not due near a process fault",
            [_late(s.clean_lateness) for s in summaries],
        ),
        (
            "rows read by polling scans per reminder sent",
            [
                f"{s.rows_read / max(1, s.delivered):.1f}" if s.rows_read is not None else "0 (no scans)"
                for s in summaries
            ],
        ),
    ]
    width = max(len(label) for label, _ in rows) + 2
    columns = [
        max(len(s.system), *(len(values[i]) for _, values in rows)) + 2 for i, s in enumerate(summaries)
    ]
    print("".ljust(width) + "".join(s.system.ljust(c) for s, c in zip(summaries, columns, strict=True)))
    for label, values in rows:
        print(label.ljust(width) + "".join(v.ljust(c) for v, c in zip(values, columns, strict=True)))
    for s in summaries:
        if s.ambiguous:
            print(f"{s.system}: ambiguous attempts resolved: {dict(s.ambiguous)}")
        print(f"{s.system}: faults: {', '.join(s.faults)}")
