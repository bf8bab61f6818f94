"""The one place that lists every workflow and builds every activity (worker.py and tests use it)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from activities.health import HealthActivities
from db.engine import SessionFactory
from workflows.health_check import DatabaseHealthCheckWorkflow

WORKFLOWS: Sequence[type] = (DatabaseHealthCheckWorkflow,)


def build_activities(session_factory: SessionFactory) -> list[Callable[..., Any]]:
    """Every activity, bound to the resources the worker owns."""
    health = HealthActivities(session_factory)
    return [health.check_database_health]
