"""Typed application keys: every resource the handlers use."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from temporalio.client import Client

from api.key_cache import ApiKeyCache
from api.metrics_registry import ApiMetrics
from db.engine import SessionFactory
from keeptime.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
SESSIONS = web.AppKey("sessions", SessionFactory)
TEMPORAL = web.AppKey("temporal", Client)
OPENAPI = web.AppKey("openapi", dict[str, Any])
METRICS = web.AppKey("metrics", ApiMetrics)
API_KEYS = web.AppKey("api_keys", ApiKeyCache)
