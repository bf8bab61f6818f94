"""Child processes of the dev stack: started in their own session, tied to our life, stopped in order."""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO

log = logging.getLogger("keeptime.stack")

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    # Linux: the kernel sends SIGTERM to the child if the stack process dies, even by SIGKILL.
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class ChildProcess:
    """One named child. Its own session, so a terminal's Ctrl-C reaches only the stack, which stops it."""

    def __init__(self, name: str, argv: Sequence[str], *, env: dict[str, str], log_file: Path | None = None):
        self.name = name
        self.argv = list(argv)
        self.env = env
        self.log_file = log_file
        self.process: asyncio.subprocess.Process | None = None
        self._log_handle: IO[bytes] | None = None

    async def start(self) -> None:
        if self.log_file is not None:
            self._log_handle = self.log_file.open("ab")
        self.process = await asyncio.create_subprocess_exec(
            *self.argv,
            env=self.env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=self._log_handle,
            stderr=asyncio.subprocess.STDOUT if self._log_handle else None,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        log.info("started %s (pid %d)", self.name, self.process.pid)

    async def wait(self) -> int:
        assert self.process is not None
        return await self.process.wait()

    async def stop(self, grace_s: float) -> None:
        """SIGTERM, then SIGKILL after ``grace_s`` seconds."""
        process = self.process
        if process is None or process.returncode is not None:
            self._close_log()
            return
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), grace_s)
        except TimeoutError:
            log.warning("%s did not stop within %.0fs; killing it", self.name, grace_s)
            process.kill()
            await process.wait()
        log.info("stopped %s (exit %s)", self.name, process.returncode)
        self._close_log()

    def _close_log(self) -> None:
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None


def child_environment(**overrides: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(overrides)
    return env
