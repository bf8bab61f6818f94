"""Application factory: resources bound to the app's lifetime, middlewares, routes."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from api.key_cache import ApiKeyCache
from api.keys import API_KEYS, METRICS, SESSIONS, SETTINGS, TEMPORAL
from api.metrics import metrics_middleware
from api.metrics_registry import ApiMetrics
from api.middleware import error_middleware, request_id_middleware
from api.routes import setup_routes
from db.engine import count_database_work, create_engine, create_session_factory
from keeptime.settings import Settings
from keeptime.temporal_client import connect_temporal


async def _database(app: web.Application) -> AsyncIterator[None]:
    engine = create_engine(app[SETTINGS].require_database_url(), pool_size=app[SETTINGS].api_db_pool_size)
    count_database_work(engine, app[METRICS].count_database)
    app[SESSIONS] = create_session_factory(engine)
    yield
    await engine.dispose()


async def _temporal(app: web.Application) -> AsyncIterator[None]:
    # Lazy: the API starts (and /readyz can say why it is not ready) even while Temporal is down.
    app[TEMPORAL] = await connect_temporal(app[SETTINGS], lazy=True)
    yield


# aiohttp answers a longer header line with a plain-text 400 before any handler runs; these let headers up to
# 32 KiB reach the handlers, which answer in JSON (an over-long Idempotency-Key, say).
SERVER_LIMITS: dict[str, int] = {"max_field_size": 32 * 1024, "max_line_size": 32 * 1024}


def create_app(settings: Settings) -> web.Application:
    app = web.Application(
        middlewares=[request_id_middleware, metrics_middleware, error_middleware],
        client_max_size=1024 * 1024,
        handler_args=SERVER_LIMITS,
    )
    app[SETTINGS] = settings
    app[METRICS] = ApiMetrics()
    app[API_KEYS] = ApiKeyCache()
    app.cleanup_ctx.extend([_database, _temporal])
    setup_routes(app)
    return app
