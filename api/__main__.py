"""``python -m api``: serve the Keeptime API on API_HOST:API_PORT."""

from __future__ import annotations

import logging

from aiohttp import web

from api.app import create_app
from keeptime.logs import setup_logging
from keeptime.settings import get_settings
from keeptime.telemetry import setup_tracing, shutdown_tracing


def main() -> None:
    settings = get_settings()
    setup_logging(settings.log_level, "api", settings.log_format)
    setup_tracing(settings, "api")
    logging.getLogger("keeptime.api").info(
        "API on http://%s:%d (OpenAPI at /openapi.json)", settings.api_host, settings.api_port
    )
    try:
        web.run_app(
            create_app(settings),
            host=settings.api_host,
            port=settings.api_port,
            print=None,
            shutdown_timeout=5,
        )
    finally:
        shutdown_tracing()


if __name__ == "__main__":
    main()
