"""The API's Prometheus endpoint (``GET /metrics``, prometheus_client's text format).

- ``keeptime_api_request_duration_seconds{method, route, status}``: every request, by route template
- ``keeptime_entities{entity, status}``: rows by status, read from PostgreSQL at each scrape
- ``keeptime_task_queue_backlog{task_queue, kind}`` and ``keeptime_task_queue_backlog_age_seconds``: tasks
  waiting for a worker and the age of the oldest, from Temporal's DescribeTaskQueue (``report_stats``) at
  each scrape: a growing age is work that is late right now, whatever its kind.
- ``keeptime_db_operations_total{kind}``: this process's SQL statements, transactions and pool checkouts
  (bench/bookings.py divides them by the bookings it made).

The worker's metrics (the SDK's and ``keeptime_messages_total``, ``keeptime_message_lateness_seconds``) are
on each worker's own endpoint (WORKER_METRICS_PORT).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import timedelta

from aiohttp import web
from aiohttp.typedefs import Handler
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.keys import METRICS, SESSIONS, SETTINGS, TEMPORAL
from api.metrics_registry import ApiMetrics
from api.openapi import RouteTable
from db.entity_counts import entities_by_status
from services.operations import task_queue_backlogs

routes = RouteTable("ops", public=True)

_SCRAPE_TIMEOUT_S = 5.0
# Label values stay a small, fixed set whatever a client sends (a made-up method would be a new series).
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    began = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "unmatched"
        method = request.method if request.method in _METHODS else "other"
        request.app[METRICS].requests.labels(method, route, str(status)).observe(time.perf_counter() - began)


@routes.get("/metrics", "Prometheus metrics of this API process", text={"200": "Prometheus text format"})
async def metrics(request: web.Request) -> web.Response:
    registry = request.app[METRICS]
    await asyncio.gather(_count_entities(request.app, registry), _task_queue_backlog(request.app, registry))
    return web.Response(
        body=generate_latest(registry.registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
    )


async def _count_entities(app: web.Application, registry: ApiMetrics) -> None:
    try:
        async with asyncio.timeout(_SCRAPE_TIMEOUT_S), app[SESSIONS]() as session:
            counts = await entities_by_status(session)
    except Exception:  # the database is down: the scrape still answers (readyz says why)
        return
    registry.entities.clear()
    for (entity, status), count in counts.items():
        registry.entities.labels(entity, status).set(count)


async def _task_queue_backlog(app: web.Application, registry: ApiMetrics) -> None:
    timeout = timedelta(seconds=_SCRAPE_TIMEOUT_S)
    for backlog in await task_queue_backlogs(app[TEMPORAL], app[SETTINGS].temporal_namespace, timeout):
        labels = (backlog.task_queue, backlog.kind)
        if backlog.count is None or backlog.age_s is None:  # no figure rather than a stale one
            for gauge in (registry.backlog, registry.backlog_age):
                with contextlib.suppress(KeyError):
                    gauge.remove(*labels)
            continue
        registry.backlog.labels(*labels).set(backlog.count)
        registry.backlog_age.labels(*labels).set(backlog.age_s)
