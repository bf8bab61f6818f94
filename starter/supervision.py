"""Restart a crashed child with backoff, as systemd's ``Restart=on-failure`` or a Kubernetes pod would.

A child that exits while the stack is running is started again after 1 s, 2 s, 4 s ... (at most 30 s); the
stack gives up (and stops everything) only when a child crash-loops: ``MAX_RESTARTS`` restarts within
``LOOP_WINDOW_S``. Each restart is logged with the exit code and the delay.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from starter.processes import ChildProcess

log = logging.getLogger("keeptime.stack")

MAX_RESTARTS = 5
LOOP_WINDOW_S = 120.0
MAX_DELAY_S = 30.0


class CrashLoop(Exception):
    """A child kept crashing: the stack stops."""


@dataclass
class RestartPolicy:
    """When to start a crashed child again, and when it is crash-looping."""

    max_restarts: int = MAX_RESTARTS
    window_s: float = LOOP_WINDOW_S
    restarts: list[float] = field(default_factory=list)  # monotonic instants of recent restarts

    def next_delay(self, now: float) -> float:
        """The backoff before the next start; CrashLoop when there were too many restarts lately."""
        self.restarts = [at for at in self.restarts if now - at < self.window_s]
        if len(self.restarts) >= self.max_restarts:
            raise CrashLoop(f"{len(self.restarts)} restarts within {self.window_s:.0f} s")
        delay = min(MAX_DELAY_S, 2.0 ** len(self.restarts))
        self.restarts.append(now)
        return delay


async def supervise(child: ChildProcess, stop: asyncio.Event, policy: RestartPolicy | None = None) -> None:
    """Keep ``child`` running until ``stop`` is set; raise CrashLoop when it will not stay up."""
    policy = policy or RestartPolicy()
    while not stop.is_set():
        exited = asyncio.create_task(child.wait())
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait([exited, stopping], return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if stop.is_set():
            exited.cancel()
            return
        code = exited.result()
        try:
            delay = policy.next_delay(time.monotonic())
        except CrashLoop as exc:
            log.error("%s exited with %s: crash loop (%s); stopping the stack", child.name, code, exc)
            raise CrashLoop(f"{child.name}: {exc}") from None
        log.warning("%s exited unexpectedly with %s; restarting it in %.0f s", child.name, code, delay)
        try:
            await asyncio.wait_for(stop.wait(), delay)
            return  # asked to stop while waiting
        except TimeoutError:
            pass
        await child.start()
