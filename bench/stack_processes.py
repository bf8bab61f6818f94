"""The parts a chaos benchmark kills and restarts: a Temporal dev server on a SQLite file, a worker process,
and the embedded PostgreSQL (restarted with ``pg_ctl restart -m fast``, as an operator would)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from pathlib import Path

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from db.embedded import EmbeddedPostgres
from domain.search_attributes import cli_declarations
from starter.stack import temporal_binary
from tests.support import free_port
from tests.worker_processes import ChildProcess, WorkerProcess

__all__ = ["ChildProcess", "TemporalServer", "WorkerProcess", "restart_postgres"]

ROOT = Path(__file__).resolve().parent.parent
SERVER_CONFIG_ENV = "BENCH_SERVER_DYNAMIC_CONFIG"  # space-separated KEY=VALUE pairs for the dev server


class TemporalServer:
    """``temporal server start-dev`` with its state in a file: a restart keeps every workflow."""

    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        self._argv = [
            temporal_binary(),
            "server",
            "start-dev",
            "--headless",
            "--db-filename",
            str(data_dir / "temporal.db"),
            # the pragmas `make run` gives its dev server (starter/stack.py)
            "--sqlite-pragma",
            "journal_mode=wal",
            "--sqlite-pragma",
            "synchronous=normal",
            "--port",
            str(self.port),
            *[arg for declaration in cli_declarations() for arg in ("--search-attribute", declaration)],
            # an experiment's dynamic config: BENCH_SERVER_DYNAMIC_CONFIG="KEY=VALUE ..." (README: Load)
            *[arg for value in _extra_config() for arg in ("--dynamic-config-value", value)],
        ]
        self._log = (data_dir / "temporal.log").open("ab")
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._process = await asyncio.to_thread(
            subprocess.Popen, self._argv, stdout=self._log, stderr=self._log
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                client = await Client.connect(self.address, data_converter=pydantic_data_converter)
                await client.service_client.check_health()
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.3)

    async def connect(self) -> Client:
        return await Client.connect(self.address, data_converter=pydantic_data_converter)

    async def restart(self) -> None:
        self.stop()
        await self.start()

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()


def _extra_config() -> list[str]:
    return os.environ.get(SERVER_CONFIG_ENV, "").split()


def restart_postgres(server: EmbeddedPostgres) -> None:
    """A fast restart of the embedded server: every connection is cut, the data stays."""
    server.restart()
