"""What every benchmark needs: a real PostgreSQL (embedded unless DATABASE_URL) and a dev server."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from db.embedded import EmbeddedPostgres, drop_database, ensure_database
from db.migrate import upgrade_async
from domain.search_attributes import ALL_SEARCH_ATTRIBUTES
from keeptime.settings import to_asyncpg_url
from tests.support import SERVER_STARTUP, database_url_named, free_port

Result = TypeVar("Result")


def run_bench(main: Coroutine[Any, Any, Result]) -> Result:
    """``asyncio.run(main)``, with SIGTERM (``timeout``, ``kill``, a CI's cancel) stopping the benchmark like
    Ctrl-C does: the main task is cancelled, so its ``finally`` blocks stop the worker processes, the dev
    server and the embedded PostgreSQL it started. Without this a SIGTERM ended the Python process at once
    and left them running (found after a 100,000-sleepers run was stopped by ``timeout``)."""
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    return asyncio.run(main)


@asynccontextmanager
async def bench_database(name: str) -> AsyncIterator[str]:
    """A fresh, migrated database on DATABASE_URL's server or on an embedded one; dropped afterwards."""
    root: Path | None = None
    server: EmbeddedPostgres | None = None
    if os.environ.get("DATABASE_URL"):
        base = to_asyncpg_url(os.environ["DATABASE_URL"])
    else:
        root = Path(tempfile.mkdtemp(prefix="kt-bench-", dir="/tmp"))
        server = EmbeddedPostgres(root / "pgdata", delete_on_stop=True)
        base = server.url("postgres")
    url = database_url_named(base, f"keeptime_bench_{name}_{os.getpid()}")
    await drop_database(url)
    await ensure_database(url)
    await upgrade_async(url)
    try:
        yield url
    finally:
        await drop_database(url)
        if server is not None:
            server.stop()
        if root is not None:
            shutil.rmtree(root, ignore_errors=True)


@asynccontextmanager
async def dev_server(db_file: Path | None = None) -> AsyncIterator[WorkflowEnvironment]:
    """The Temporal dev server as `make run` starts it (SQLite file with WAL when ``db_file`` is given)."""
    extra = (
        ["--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal"] if db_file else []
    )
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(Path(sys.executable).parent / "temporal"),
        data_converter=pydantic_data_converter,
        search_attributes=ALL_SEARCH_ATTRIBUTES,
        port=free_port(),
        dev_server_database_filename=str(db_file) if db_file else None,
        dev_server_extra_args=extra,
        dev_server_startup_timeout=SERVER_STARTUP,
    )
    try:
        yield env
    finally:
        await env.shutdown()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")
