"""CPU used by each part of the stack over a window: which process binds when the box is saturated.

A part's CPU is the user + system time of its processes (children included: a worker's, PostgreSQL's
backends) read at the start and the end of the window; divided by the window's length it is the cores that
part used. ``PostgreSQL`` counts every process named ``postgres`` (the embedded server or the system one);
a process that ends inside the window loses its share (pooled connections live through a run).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

import psutil


def _cpu_seconds(process: psutil.Process) -> float:
    try:
        times = process.cpu_times()
        return times.user + times.system
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return 0.0


def _tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _postgres() -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["name"]):
        if process.info["name"] == "postgres":
            found.append(process)
    return found


@dataclass
class CpuWindow:
    """``start()`` then ``stop()``; ``report()`` prints the cores each part used in between."""

    parts: dict[str, list[int]]  # part name -> root pids (their children count too, unless claimed before)
    own: str = "bench and peers"  # this process alone (the peers run in it; its children are the parts)
    _started: dict[int, float] = field(default_factory=dict)  # pid -> CPU seconds at start
    _wall: float = 0.0
    _used: dict[str, float] = field(default_factory=dict)
    _box: float = 0.0

    def _processes(self) -> dict[int, tuple[str, psutil.Process]]:
        found: dict[int, tuple[str, psutil.Process]] = {}
        for part, pids in self.parts.items():
            for pid in pids:
                for process in _tree(pid):
                    found.setdefault(process.pid, (part, process))
        for process in _postgres():
            found.setdefault(process.pid, ("PostgreSQL", process))
        found.setdefault(os.getpid(), (self.own, psutil.Process()))
        return found

    def start(self) -> None:
        self._wall = time.monotonic()
        self._box = _box_busy_seconds()
        for pid, (_, process) in self._processes().items():
            self._started[pid] = _cpu_seconds(process)

    def stop(self) -> None:
        self._wall = time.monotonic() - self._wall
        self._box = _box_busy_seconds() - self._box
        for pid, (part, process) in self._processes().items():
            used = _cpu_seconds(process) - self._started.get(pid, 0.0)  # a process born meanwhile: all of it
            self._used[part] = self._used.get(part, 0.0) + max(0.0, used)

    def report_idle(self, what: str) -> None:
        """Cores each part used in a window with no items: the stack's fixed cost (pollers, the dev server's
        queue scans), which a per-item figure over a long, sparse window includes."""
        if self._wall <= 0:
            return
        cores = ", ".join(f"{part} {used / self._wall:.2f}" for part, used in sorted(self._used.items()))
        print(f"  CPU {what}, in cores: {cores}; the whole box {self._box / self._wall:.2f}")

    def seconds_of(self, part: str) -> float:
        """CPU seconds ``part`` used in the window (after ``stop()``)."""
        return self._used.get(part, 0.0)

    def report(self, items: int, unit: str = "reminder") -> None:
        """Cores used by each part, and its CPU milliseconds per item (a reminder, a booking) handled in the
        window."""
        if self._wall <= 0 or items <= 0:
            return
        parts = sorted(self._used.items())
        cores = ", ".join(f"{part} {used / self._wall:.2f}" for part, used in parts)
        print(
            f"  CPU over the {self._wall:.0f} s window, in cores: {cores}; the whole box "
            f"{self._box / self._wall:.2f} of {os.cpu_count()}"
        )
        per_item = ", ".join(f"{part} {1000 * used / items:.1f}" for part, used in parts)
        print(f"  CPU per {unit}, in ms: {per_item}; the whole box {1000 * self._box / items:.1f}")


def _box_busy_seconds() -> float:
    times = psutil.cpu_times()
    return float(times.user + times.system + times.nice + getattr(times, "irq", 0.0) + times.softirq)
