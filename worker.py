"""The Keeptime worker: one client, one Worker per task queue, every workflow and activity registered.

Run ``python worker.py`` (all queues) or
``python worker.py --queues appointments,notifications`` (short or full queue names).
SIGTERM / SIGINT drain in-flight activities (graceful shutdown timeout) and exit.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
from datetime import timedelta

import aiohttp
from temporalio.client import Client
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import Worker

from activities.metrics import HISTOGRAM_BUCKETS
from activities.notifications import Checkpoint
from db.engine import SessionFactory, create_engine, create_session_factory
from domain.task_queues import workflow_cache_sizes
from keeptime.log_context import TenantLogInterceptor
from keeptime.logs import setup_logging
from keeptime.settings import Settings, get_settings
from keeptime.telemetry import setup_tracing, shutdown_tracing
from keeptime.temporal_client import connect_temporal
from keeptime.workflow_code import share_workflow_code
from services.registry import WORKFLOWS, build_activities

log = logging.getLogger("keeptime.worker")


def build_workers(
    client: Client,
    session_factory: SessionFactory,
    settings: Settings,
    http: aiohttp.ClientSession,
    *,
    checkpoint: Checkpoint | None = None,
) -> list[Worker]:
    """One Worker per configured task queue, each with every activity, and every workflow where the queue
    runs workflows; the process's workflow cache (WORKER_MAX_CACHED_WORKFLOWS) is split among those."""
    share_workflow_code()
    activities = build_activities(session_factory, settings, http, client, checkpoint=checkpoint)
    cache_sizes = workflow_cache_sizes(settings.worker_max_cached_workflows, settings.worker_task_queues)
    return [
        Worker(
            client,
            task_queue=queue,
            # A queue that runs no workflows polls for none (no idle workflow pollers on the server).
            workflows=list(WORKFLOWS) if queue in cache_sizes else [],
            activities=activities,
            max_concurrent_activities=settings.worker_activity_slots,
            # Two shared cores: fewer concurrent workflow tasks keeps each under its 10 s timeout.
            max_concurrent_workflow_tasks=settings.worker_workflow_task_slots,
            graceful_shutdown_timeout=timedelta(seconds=10),
            interceptors=[TenantLogInterceptor()],
            # Heartbeats reach the server at least every 2 s (the SDK's default is 80% of the heartbeat
            # timeout): a 6 s heartbeat timeout then has 4 s of slack for a busy process.
            max_heartbeat_throttle_interval=timedelta(seconds=2),
            # A dead worker's cached workflows move to the others this soon (README: Operating Keeptime).
            sticky_queue_schedule_to_start_timeout=timedelta(seconds=settings.worker_sticky_timeout_s),
            # One budget per process, as the memory is (README: Load): about 150-200 KB per cached workflow.
            max_cached_workflows=cache_sizes.get(queue, 0),
        )
        for queue in settings.worker_task_queues
    ]


async def run_worker(settings: Settings, stop: asyncio.Event) -> None:
    """Run until ``stop`` is set, then shut every worker down and close the resources it owns."""
    setup_tracing(settings, "worker")
    # One pool for all queues, sized by the connection budget (settings: WORKER_DB_POOL_SIZE); an activity
    # waits for a free connection rather than the process exceeding PostgreSQL's max_connections.
    engine = create_engine(settings.require_database_url(), pool_size=settings.worker_db_pool_size)
    client = await _connect_when_up(settings, stop, metrics_runtime(settings))
    if client is None:  # asked to stop while Temporal was still down
        await engine.dispose()
        return
    http = aiohttp.ClientSession()
    workers = build_workers(client, create_session_factory(engine), settings, http)
    tasks = [asyncio.create_task(w.run()) for w in workers]
    log.info(
        "worker polling %s on %s (namespace %s)",
        ", ".join(settings.worker_task_queues),
        settings.temporal_address,
        settings.temporal_namespace,
    )
    try:
        done, _ = await asyncio.wait(
            [*tasks, asyncio.create_task(stop.wait())], return_when="FIRST_COMPLETED"
        )
        for task in done & set(tasks):
            task.result()  # a worker that died on its own: surface why
        log.info("shutting down: draining in-flight tasks")
    finally:
        await asyncio.gather(*(w.shutdown() for w in workers), return_exceptions=True)
        await asyncio.gather(*tasks, return_exceptions=True)
        await http.close()
        await engine.dispose()
        shutdown_tracing()
        log.info("worker stopped")


def metrics_runtime(settings: Settings) -> Runtime | None:
    """A Temporal runtime whose telemetry serves Prometheus on WORKER_METRICS_PORT: the SDK's own metrics
    (task latencies, slots, polls) and Keeptime's (activities.metrics), counters with ``_total``, durations
    in seconds. None (the default runtime, no endpoint) when the port is unset."""
    if settings.worker_metrics_port is None:
        return None
    return Runtime(
        telemetry=TelemetryConfig(
            metrics=PrometheusConfig(
                bind_address=f"{settings.metrics_host}:{settings.worker_metrics_port}",
                counters_total_suffix=True,
                durations_as_seconds=True,
                histogram_bucket_overrides=HISTOGRAM_BUCKETS,
            )
        )
    )


async def _connect_when_up(
    settings: Settings, stop: asyncio.Event, runtime: Runtime | None = None
) -> Client | None:
    """Connect to Temporal, waiting with backoff (1 s doubling to 30 s) while it is down, as a worker started
    before its server (or during a restart) should; None when ``stop`` is set first."""
    delay = 1.0
    while not stop.is_set():
        try:
            return await connect_temporal(settings, runtime=runtime)
        except Exception as exc:  # the SDK raises a plain RuntimeError when the server is unreachable
            log.warning(
                "Temporal at %s is not reachable (%s); retrying in %.0f s",
                settings.temporal_address,
                exc,
                delay,
            )
        try:
            await asyncio.wait_for(stop.wait(), delay)
        except TimeoutError:
            delay = min(30.0, delay * 2)
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--queues", help="comma-separated task queues to poll (default: all)")
    args = parser.parse_args()
    if args.queues:
        os.environ["WORKER_TASK_QUEUES"] = args.queues
    settings = get_settings()
    setup_logging(settings.log_level, "worker", settings.log_format)

    async def _main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await run_worker(settings, stop)

    asyncio.run(_main())


if __name__ == "__main__":
    main()
